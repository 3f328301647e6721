"""The course of a run: the loss and learning rate of every step, the validation PSNR of every
validation. Kept inside last.pt (so a resumed run has the whole of it) and written as
``RUN_DIR/history.csv`` and ``RUN_DIR/training.png``."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from atdkit.pipelines.statistics.plots import png
from atdkit.store import write_file

COLUMNS = ("step", "epoch", "loss", "lr", "val_psnr")


class History:
    def __init__(self, state: dict | None = None):
        state = state or {}
        self.steps: list[int] = list(state.get("steps", []))
        self.epochs: list[int] = list(state.get("epochs", []))
        self.losses: list[float] = list(state.get("losses", []))
        self.lrs: list[float] = list(state.get("lrs", []))
        self.validations: dict[int, float] = dict(zip(state.get("val_steps", []), state.get("val_psnr", [])))

    def add_step(self, step: int, epoch: int, loss: float, lr: float) -> None:
        self.steps.append(step)
        self.epochs.append(epoch)
        self.losses.append(loss)
        self.lrs.append(lr)

    def add_validation(self, step: int, psnr: float) -> None:
        self.validations[step] = psnr

    def state(self) -> dict:
        """Plain lists (what a weights_only checkpoint may hold)."""
        return {
            "steps": self.steps,
            "epochs": self.epochs,
            "losses": self.losses,
            "lrs": self.lrs,
            "val_steps": list(self.validations),
            "val_psnr": list(self.validations.values()),
        }

    def write(self, run_dir: Path, plot: bool = True) -> None:
        """history.csv (one row per step; val_psnr on the steps validated) and, with ``plot``, training.png."""
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(COLUMNS)
        for step, epoch, loss, lr in zip(self.steps, self.epochs, self.losses, self.lrs):
            psnr = self.validations.get(step)
            writer.writerow([step, epoch, f"{loss:.6g}", f"{lr:.6g}", "" if psnr is None else f"{psnr:.4f}"])
        write_file(run_dir / "history.csv", text.getvalue())
        if plot:
            write_file(run_dir / "training.png", self.figure())

    def figure(self) -> bytes:
        """Training loss (each step, and its running mean) and validation PSNR against the step, as PNG bytes."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(10, 3.6))
        loss_axes, psnr_axes = figure.subplots(1, 2)
        if self.steps:
            loss_axes.plot(self.steps, self.losses, color="#2e86ab", alpha=0.3, linewidth=0.8, label="step")
            window = max(1, min(len(self.losses) // 20, 200))
            if window > 1:
                smooth = np.convolve(self.losses, np.ones(window) / window, mode="valid")
                loss_axes.plot(
                    self.steps[window - 1 :], smooth, color="#2e86ab", linewidth=1.6, label=f"mean of {window}"
                )
            loss_axes.legend(loc="upper right")
        loss_axes.set(title="training loss (L1)", xlabel="step", ylabel="L1")
        finite = {step: psnr for step, psnr in sorted(self.validations.items()) if math.isfinite(psnr)}
        if finite:
            psnr_axes.plot(list(finite), list(finite.values()), marker="o", color="#d1495b")
            best = max(finite, key=finite.get)
            psnr_axes.annotate(
                f"best {finite[best]:.2f} dB",
                (best, finite[best]),
                textcoords="offset points",
                xytext=(0, 8),
                ha="center",
            )
        psnr_axes.set(title="validation PSNR", xlabel="step", ylabel="PSNR (dB)")
        for axes in (loss_axes, psnr_axes):
            axes.grid(alpha=0.3)
        return png(figure)
