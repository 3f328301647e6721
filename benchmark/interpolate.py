"""``atdkit interpolate``: frames between two frames with any benchmark method.

    atdkit interpolate --method animeinterp FRAME1 FRAME3 --out MIDDLE.png --weights animeinterp=... vgg19=...
    atdkit interpolate --method dis-warp FRAME1 FRAME3 --factor 4 --out FOLDER    # t = 0.25, 0.5, 0.75

Frames are used at their own size (fitted to the method's rule and back, as in ``atdkit bench``);
``flows_dir`` gives precomputed flows (the official files ``guide_flo13.npy``, ``guide_flo31.npy``)
to the methods that take them, with the option values the method implies for given flows. Times
other than 0.5 need a method declared ``any_timestep``; one time is written to the image file
``out``, several to ``out`` as a folder (``t0.25.png``, ...). Images go through temporary files.
:class:`Interpolation` is the same machinery for ``atdkit interpolate --video`` (:mod:`..retime`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from atdkit.benchmark import methods as registry
from atdkit.benchmark.harness import choose_device, fit_inputs
from atdkit.images import read_rgb, write_image
from atdkit.pipelines.formats.atd12k import FLOW_FILES, read_flows

MIDDLE = 0.5


def even_times(factor: int) -> list[float]:
    """The times of the ``factor - 1`` frames that make ``factor`` even steps from frame1 to frame3."""
    if factor < 2:
        raise ValueError(f"--factor must be at least 2, got {factor}")
    return [k / factor for k in range(1, factor)]


def check_times(times: Sequence[float]) -> None:
    if not times or any(not 0 < t < 1 for t in times):
        raise ValueError(f"times must lie strictly between 0 (frame1) and 1 (frame3), got {', '.join(map(str, times))}")


@dataclass
class Interpolation:
    """A method loaded for a run: frames in, uint8 frames out at the asked times."""

    method: registry.Method
    interpolate: registry.Interpolator
    device: torch.device
    weights: dict[str, Path]  # the method's weight files, found and checked

    @classmethod
    def load(
        cls,
        method_name: str,
        weights: dict[str, Path] | None = None,
        device: str = "auto",
        options: dict[str, object] | None = None,
        flows_given: bool = False,
        any_time: str | None = None,
    ) -> Interpolation:
        """The method with its option values and weights, on the device. ``any_time``: what needs times other
        than 0.5 (e.g. "--video"), refused in one line for a method not declared ``any_timestep``."""
        method = registry.get(method_name)
        given = dict(method.given_flows) if flows_given else {}
        method = method.with_options(
            {**given, **{key: value for key, value in (options or {}).items() if value is not None}}
        )
        if any_time and not method.any_timestep:
            raise registry.MethodError(
                f"method {method.name} gives only the middle frame (t = 0.5), not the other times {any_time} needs"
            )
        if flows_given and method.flows == "none":
            raise ValueError(f"method {method.name} takes no precomputed flows: leave out --flows")
        if not flows_given and method.flows == "required":
            raise ValueError(
                f"method {method.name} needs precomputed flows: pass --flows DIR ({', '.join(FLOW_FILES)})"
            )
        paths = registry.resolve_weights(method, {key: Path(path) for key, path in (weights or {}).items()})
        torch_device, _ = choose_device(device)
        return cls(method, method.load(paths, torch_device), torch_device, paths)

    def frames(
        self,
        first: np.ndarray,
        last: np.ndarray,
        times: Sequence[float],
        flows: tuple[np.ndarray, np.ndarray] | None = None,
        name: str | None = None,
        neighbours: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> list[np.ndarray]:
        """The frames at ``times`` between uint8 RGB images ``first`` and ``last`` (H, W, 3), as uint8 RGB,
        computed ``method.batch_size`` times per call. ``name``: the triplet id, for methods that take ids;
        ``neighbours``: the frames before ``first`` and after ``last``, for methods that take them."""
        if self.method.neighbours and neighbours is None:
            raise ValueError(f"method {self.method.name} needs the frames before and after the pair: use --video")
        images = (first, last, *(neighbours if self.method.neighbours else ()))
        tensors = [
            torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float().div(255).to(self.device)
            for image in images
        ]
        given = [None, None] if flows is None else [torch.from_numpy(flow)[None].to(self.device) for flow in flows]
        fitted, restore = fit_inputs(self.method.fit, [*tensors, *given], [False] * len(tensors) + [True, True])
        a, b, *around = fitted[: len(tensors)]
        flow13, flow31 = fitted[len(tensors) :]
        out = []
        for start in range(0, len(times), self.method.batch_size):
            chunk = torch.tensor(times[start : start + self.method.batch_size], dtype=torch.float32)
            batch = len(chunk)
            pair_flows = None if flows is None else (flow13.expand(batch, -1, -1, -1), flow31.expand(batch, -1, -1, -1))
            extra = {"ids": [name] * batch} if self.method.takes_ids else {}
            if around:
                extra["neighbours"] = tuple(frame.expand(batch, -1, -1, -1) for frame in around)
            if not torch.all(chunk == MIDDLE):  # the middle frame: called as the benchmark calls it, without t
                extra["t"] = chunk.to(self.device)
            with torch.inference_mode():
                made = self.interpolate(a.expand(batch, -1, -1, -1), b.expand(batch, -1, -1, -1), pair_flows, **extra)
            pixels = restore(made.float()).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255
            out.extend(np.round(pixels).astype(np.uint8))
        return out


def time_name(t: float) -> str:
    return f"t{t:.4g}.png"


def interpolate_pair(
    method_name: str,
    frame1: Path,
    frame3: Path,
    out: Path,
    weights: dict[str, Path] | None = None,
    device: str = "auto",
    flows_dir: Path | None = None,
    options: dict[str, object] | None = None,
    times: Sequence[float] = (MIDDLE,),
) -> tuple[list[Path], float]:
    """Write the frames at ``times`` (the middle one by default); returns their paths and the method's seconds.

    ``options``: the method's run option values by key. Methods that take triplet ids get the name of
    the folder holding ``frame1``. Raises MethodError, BenchError or ValueError with a one-line message.
    """
    check_times(times)
    several = len(times) > 1
    if several and Path(out).suffix:
        raise ValueError(f"--out {out}: several times are written to a folder (t0.25.png, ...), not to one image")
    run = Interpolation.load(
        method_name,
        weights,
        device,
        options,
        flows_given=flows_dir is not None,
        any_time=None if list(times) == [MIDDLE] else "--times/--factor",
    )
    first, last = read_rgb(frame1), read_rgb(frame3)
    if first.shape != last.shape:
        raise ValueError(
            f"{frame1} is {first.shape[1]}x{first.shape[0]} but {frame3} is {last.shape[1]}x{last.shape[0]}"
        )
    flows = None if flows_dir is None else tuple(read_flows(flows_dir, first.shape[:2]))
    started = time.perf_counter()
    images = run.frames(first, last, list(times), flows, name=Path(frame1).resolve().parent.name)
    seconds = time.perf_counter() - started
    paths = [Path(out) / time_name(t) for t in times] if several else [Path(out)]
    for path, image in zip(paths, images):
        write_image(path, image)
    return paths, seconds
