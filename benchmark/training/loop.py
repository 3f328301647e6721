"""``atdkit train``: train or fine-tune a benchmark method's network on an atdkit dataset,
with the paper's recipe (section 4.4).

A method is trainable when its declaration has a ``Trainable``: how to build its network
(randomly, or from starting weight files) and how to call it. Each step takes a batch of
augmented crops (:mod:`.data`), fits them to the method's padding or resizing
rule (:func:`atdkit.benchmark.harness.fit_inputs`), and lowers the L1 distance between the predicted
and the true middle frames with Adam (learning rate 1e-4 from scratch, 1e-6 when fine-tuning
from a checkpoint of the whole network, under a ``--schedule``). At each epoch's end, and at
the last step, the validation triplets are interpolated whole at the training size and scored
by PSNR. On CUDA the steps run under autocast (fp16) with gradient scaling; under ``torchrun``
each process trains on its share of every batch and DistributedDataParallel averages the
gradients. Checkpoints, history and plot: :mod:`.checkpoints` and :mod:`.history`.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.lr_scheduler import LambdaLR
from torch.utils.data import DataLoader

import atdkit
from atdkit.benchmark import methods as registry
from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.harness import device_name, fit_inputs
from atdkit.benchmark.methods import Method, MethodError, TrainingFlows
from atdkit.benchmark.training import checkpoints, distributed
from atdkit.benchmark.training.data import (
    TrainingCrops,
    TrainingData,
    TrainingOrder,
    WholeTriplets,
    load_frames,
    open_training_data,
)
from atdkit.benchmark.training.distributed import Ranks
from atdkit.benchmark.training.history import History
from atdkit.benchmark.training.schedule import Schedule, parse_schedule
from atdkit.benchmark.training.settings import LR_FINE_TUNING, LR_FROM_SCRATCH, TrainError, TrainSettings
from atdkit.store import Dataset, DatasetBusyError


@dataclass
class TrainReport:
    out: Path
    method: str
    weights_key: str
    steps: int
    epochs: int
    best_val_psnr: float | None
    best_step: int | None
    samples_per_second: float | None  # over the steps this call ran, all processes together
    resumed_from: int | None
    main: bool = True  # this process writes the run's files (and prints)


def trainable_names() -> list[str]:
    return [name for name, method in registry.available().items() if method.trainable is not None]


def trainable_method(method: str | Method) -> Method:
    """The declaration of a trainable method; TrainError listing the trainable ones otherwise."""
    if not isinstance(method, Method):
        try:
            method = registry.get(method)
        except MethodError:
            raise TrainError(f"unknown method {method!r}; trainable methods: {', '.join(trainable_names())}") from None
    if method.trainable is None:
        raise TrainError(
            f"method {method.name} declares no network to train; trainable methods: {', '.join(trainable_names())}"
        )
    return method


def starting_weights(method: Method, given: dict[str, Path]) -> dict[str, Path]:
    """The starting weight files given with --weights, found and checked (an atdkit-train checkpoint
    of another method is refused)."""
    flows = method.trainable.flows
    allowed = [weight.key for weight in (*method.trainable.starts, *(flows.weights if flows else ()))]
    for key in given:
        if key not in allowed:
            takes = f"it takes {', '.join(allowed)}" if allowed else "it takes none"
            raise TrainError(f"--weights {key}=...: training {method.name} uses no weight file called {key} ({takes})")
    chosen = replace(method, weights=tuple(weight for weight in method.trainable.starts if weight.key in given))
    try:
        return registry.resolve_weights(chosen, given)
    except MethodError as error:
        raise TrainError(str(error)) from None


def one_line(error: Exception) -> str:
    """An error's last line (a DataLoader worker's error arrives with the worker's traceback before it)."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()] or [type(error).__name__]
    return lines[-1].removeprefix(f"{type(error).__name__}: ")


class Trainer:
    """A network with its optimizer, learning-rate schedule and gradient scaler: training steps and validation."""

    def __init__(
        self,
        method: Method,
        network: torch.nn.Module,
        device: torch.device,
        lr: float,
        schedule: Schedule,
        amp: bool,
        ranks: Ranks = Ranks(),
    ):
        self.method, self.network, self.device, self.amp, self.ranks = method, network, device, amp, ranks
        self.optimizer = torch.optim.Adam([p for p in network.parameters() if p.requires_grad], lr=lr)
        self.scheduler = LambdaLR(self.optimizer, lambda step: schedule.factor(step))
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp)
        self.forward = method.trainable.forward or (lambda net, frame1, frame3, flows: net(frame1, frame3, flows))
        self.trained = network
        if (
            ranks.world > 1
        ):  # a static graph: parameters a forward pass never uses (AnimeInterp's attention2) are allowed
            self.trained = DistributedDataParallel(
                network, device_ids=[device.index] if device.type == "cuda" else None, static_graph=True
            )

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def inputs(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """frame1, frame2, frame3 as float (B, 3, H, W) in [0, 1] on the device, and the flows
        (B, 2, 2, H, W) or None."""
        frames = batch["frames"].to(self.device, non_blocking=True).float().div_(255)
        flows = batch.get("flows")
        return (
            frames[:, 0],
            frames[:, 1],
            frames[:, 2],
            None if flows is None else flows.to(self.device, non_blocking=True),
        )

    def predict(self, network, frame1: torch.Tensor, frame3: torch.Tensor, flows: torch.Tensor | None) -> torch.Tensor:
        """The middle frames (float32, unclamped), the inputs fitted to the method's rule and the output restored."""
        tensors = [frame1, frame3, *((None, None) if flows is None else flows.unbind(1))]
        (frame1, frame3, flow13, flow31), restore = fit_inputs(self.method.fit, tensors, [False, False, True, True])
        with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.amp):
            try:
                middle = self.forward(network, frame1, frame3, None if flows is None else (flow13, flow31))
            except ValueError as error:  # the network cannot take such inputs (too small, ...)
                raise TrainError(f"method {self.method.name}: {error} (choose another --crop or --size)") from None
        return restore(middle.float())

    def step(self, batch: dict, micro_batches: int = 1) -> torch.Tensor:
        """One optimizer step on ``batch``; returns the batch's L1 loss (detached).

        With ``micro_batches`` > 1 the batch is run in that many parts one after another, each
        part's loss weighted by its share of the batch, and the gradients summed: the same step
        as in one go, in a fraction of the activation memory.
        """
        frame1, frame2, frame3, flows = self.inputs(batch)
        self.optimizer.zero_grad(set_to_none=True)
        total = frame2.new_zeros((), dtype=torch.float32)
        for part in torch.arange(len(frame2)).tensor_split(micro_batches):
            share = len(part) / len(frame2)
            prediction = self.predict(self.trained, frame1[part], frame3[part], None if flows is None else flows[part])
            loss = F.l1_loss(prediction, frame2[part]) * share
            self.scaler.scale(loss).backward()
            total += loss.detach()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return total

    @torch.no_grad()
    def validate(self, batches) -> float:
        """Mean PSNR (data range 1, prediction clamped to [0, 1]) of the validation triplets, over every process."""
        self.network.eval()
        totals = torch.zeros(2, dtype=torch.float64, device=self.device)
        for batch in batches:
            frame1, frame2, frame3, flows = self.inputs(batch)
            error = (
                (self.predict(self.network, frame1, frame3, flows).clamp(0, 1) - frame2).square().mean(dim=(1, 2, 3))
            )
            totals += torch.stack(
                [
                    (-10 * torch.log10(error.clamp_min(1e-10))).sum().double(),
                    torch.tensor(len(error), device=self.device),
                ]
            )
        self.network.train()
        psnr_sum, count = distributed.summed(totals, self.ranks).tolist()
        return psnr_sum / max(count, 1)

    def state(self) -> dict:
        return {
            "optimizer_state_dict": self.optimizer.state_dict(),
            "scheduler_state_dict": self.scheduler.state_dict(),
            "scaler_state_dict": self.scaler.state_dict(),
        }

    def load_state(self, checkpoint: dict) -> None:
        self.network.load_state_dict(checkpoint[checkpoints.MODEL])
        self.optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
        self.scheduler.load_state_dict(checkpoint["scheduler_state_dict"])
        self.scaler.load_state_dict(checkpoint["scaler_state_dict"])


def train(
    method: str | Method,
    data: str | Path,
    out: str | Path,
    settings: TrainSettings = TrainSettings(),
    *,
    weights: dict[str, Path] | None = None,
    options: dict[str, object] | None = None,
    resume: bool = False,
    console: Console | None = None,
) -> TrainReport:
    """Train ``method``'s network on the atdkit dataset ``data`` into the run folder ``out`` (see the module doc).

    ``weights``: starting weight files by key, and those the network's flows need.
    ``options``: the method's run option values by key (``Option.key``). Raises TrainError (one
    line) when the run cannot start or go on; a run interrupted at any point continues with ``resume``.
    """
    console = console or Console(stderr=True)
    settings.check()
    declared = trainable_method(method)
    try:
        method = declared.with_options(options or {})
    except MethodError as error:
        raise TrainError(str(error)) from None
    ranks, device = distributed.start(settings.device)
    try:
        return Run(
            method,
            Path(data),
            Path(out),
            settings,
            {key: Path(path) for key, path in (weights or {}).items()},
            resume,
            ranks,
            device,
            console,
            declared.trainable.flows,
        ).go()
    finally:
        distributed.stop()


class Run:
    """One call of :func:`train`: the checks, then the steps."""

    def __init__(
        self,
        method: Method,
        data: Path,
        out: Path,
        settings: TrainSettings,
        given: dict[str, Path],
        resume: bool,
        ranks: Ranks,
        device: torch.device,
        console: Console,
        declared_flows: TrainingFlows | None = None,
    ):
        self.method, self.out, self.settings, self.ranks, self.device, self.console = (
            method,
            out,
            settings,
            ranks,
            device,
            console,
        )
        self.declared_flows = declared_flows  # the method's flows before the run's options (which may turn them off)
        self.flows = method.trainable.flows
        self.starts = starting_weights(method, given)
        self.data: TrainingData = open_training_data(data, settings.val_fraction, settings.seed)
        self.fingerprint = self.data.fingerprint()
        if settings.batch_size % ranks.world:
            raise TrainError(
                f"--batch-size {settings.batch_size} does not divide among the {ranks.world} processes torchrun started"
            )
        if settings.accumulate > settings.batch_size // ranks.world:
            raise TrainError(
                f"--accumulate {settings.accumulate} is more micro-batches than the "
                f"{settings.batch_size // ranks.world} triplets each process takes per step"
            )
        self.steps_per_epoch = TrainingOrder(
            len(self.data.train), settings.batch_size, settings.seed, 0, 0
        ).steps_per_epoch
        self.target = settings.target_steps(self.steps_per_epoch)
        try:
            self.schedule = parse_schedule(settings.schedule, self.steps_per_epoch, self.target)
        except ValueError as error:
            raise TrainError(str(error)) from None
        fine_tuning = method.trainable.weights_key in self.starts
        self.lr = settings.lr or (LR_FINE_TUNING if fine_tuning else LR_FROM_SCRATCH)
        self.amp = settings.amp and device.type == "cuda"
        self.recorded = settings.recorded(
            self.lr, self.schedule.spec(), self.flows.describe if self.flows else None, self.amp
        )
        self.last = checkpoints.read_last(out, method.name, self.recorded, self.fingerprint) if resume else None
        if not resume and (out / checkpoints.LAST).exists():
            raise TrainError(
                f"{out / checkpoints.LAST} exists: {out} holds a run; continue it with --resume or choose another --out"
            )
        self.flow_weights = self._flow_weights(given) if self.flows else {}

    def _flow_weights(self, given: dict[str, Path]) -> dict[str, Path]:
        """The weight files computing the network's flows needs, found and checked."""
        paths = {}
        for weight in self.flows.weights:
            path = registry.locate(weight, given)
            if path is None:
                off = [option.flag for option in self.method.options if option.switch and "train" in option.commands]
                missing = registry.missing_message(f"method {self.method.name}", weight, given)
                raise TrainError(
                    f"{missing} (for its {self.flows.describe})" + (f"; or train without them: {off[0]}" if off else "")
                )
            paths[weight.key] = path
        return paths

    def _flow_folders(self) -> dict[str, Path] | None:
        """Each triplet's folder of flows, computed first where missing (by the main process; the others wait)."""
        if self.flows is None:
            return None
        triplets = self.data.train + self.data.val
        items = [(t.triplet_id, partial(load_frames, t, self.settings.size)) for t in triplets]
        folders = None
        for turn in ("main", "others"):
            if (turn == "main") == self.ranks.main:
                columns = (TextColumn("flows"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
                with Progress(*columns, console=self.console, transient=True, disable=not self.ranks.main) as progress:
                    task = progress.add_task("flows", total=len(items))
                    try:
                        folders = self.flows.prepare(
                            items,
                            self.flow_weights,
                            self.device,
                            self.data.root,
                            lambda: progress.advance(task),  # noqa: B023 (called in this turn)
                        )
                    except (MethodError, CheckpointError, ValueError, OSError) as error:
                        raise TrainError(one_line(error)) from None
            distributed.barrier(self.ranks)
        if self.ranks.main:
            self.console.print(f"{self.flows.describe}: ready for {len(folders)} triplets", highlight=False)
        return folders

    def go(self) -> TrainReport:
        lock = Dataset(self.out).writing() if self.ranks.main else contextlib.nullcontext()
        try:
            with lock:
                return self._train()
        except DatasetBusyError:
            raise TrainError(f"{self.out}: another process is writing to this run folder") from None

    def _train(self) -> TrainReport:
        settings, ranks, console = self.settings, self.ranks, self.console
        self.flow_folders = self._flow_folders()
        torch.backends.cudnn.benchmark = (
            self.device.type == "cuda"
        )  # fixed crop and frame sizes: let cuDNN pick its fastest kernels
        torch.manual_seed(settings.seed)
        try:
            network = self.method.trainable.build(self.starts).to(self.device).train()
        except MethodError as error:
            raise TrainError(str(error)) from None
        trainer = Trainer(self.method, network, self.device, self.lr, self.schedule, self.amp, ranks)
        history, step = History(), 0
        info = {
            "best_val_psnr": None,
            "best_step": None,
            "started_from": {key: str(path) for key, path in self.starts.items()},
        }
        if self.last is not None:
            trainer.load_state(self.last)
            history, info = History(self.last["history"]), self.last[checkpoints.TRAINING]
            step = info["steps"]
        self.best, self.best_step, self.started_from = info["best_val_psnr"], info["best_step"], info["started_from"]
        if ranks.main:
            self._describe(step)
        order = TrainingOrder(
            len(self.data.train), settings.batch_size, settings.seed, step, self.target, ranks.rank, ranks.world
        )
        loader = DataLoader(
            TrainingCrops(self.data.train, settings.size, settings.crop, self.flow_folders),
            sampler=order,
            batch_size=settings.batch_size // ranks.world,
            num_workers=settings.workers,
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator().manual_seed(settings.seed),
        )
        if self.last is not None:
            checkpoints.set_rng_state(self.last["rng_state"])
        first, started = step, time.perf_counter()
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, disable=not ranks.main) as progress:
            task = progress.add_task(f"training {self.method.name}", total=self.target, completed=step, status="")
            batches = iter(loader)
            while step < self.target:
                try:
                    batch = next(batches)
                except (ValueError, OSError) as error:  # an unreadable frame or flow file
                    raise TrainError(one_line(error)) from None
                lr = trainer.lr
                loss = float(distributed.summed(trainer.step(batch, settings.accumulate), ranks)) / ranks.world
                step += 1
                if not math.isfinite(loss):
                    raise TrainError(
                        f"the training loss is {loss} at step {step}: training diverged (a lower --lr may help); "
                        f"{self.out / checkpoints.LAST} keeps the last good state"
                    )
                history.add_step(step, (step - 1) // self.steps_per_epoch + 1, loss, lr)
                if step % self.steps_per_epoch == 0 or step == self.target:
                    self._validate_and_save(trainer, history, step)
                elif step % settings.save_every == 0:
                    self._save_last(trainer, history, step, plot=False)
                rate = (step - first) * settings.batch_size / (time.perf_counter() - started)
                best = f", best {self.best:.2f} dB" if self.best is not None else ""
                progress.update(
                    task, completed=step, status=f"loss {loss:.4f}, lr {lr:.2g}, {rate:.1f} samples/s{best}"
                )
        seconds = time.perf_counter() - started
        distributed.barrier(
            ranks
        )  # every process leaves together (gloo aborts one that exits while another still writes)
        if step == first and ranks.main:
            console.print(
                f"{self.out / checkpoints.LAST}: already at step {step}, "
                "the end asked (--steps/--epochs); nothing to do",
                highlight=False,
            )
        return TrainReport(
            self.out,
            self.method.name,
            self.method.trainable.weights_key,
            step,
            step // self.steps_per_epoch,
            self.best,
            self.best_step,
            (step - first) * settings.batch_size / seconds if step > first else None,
            first if self.last is not None else None,
            ranks.main,
        )

    def _describe(self, step: int) -> None:
        settings = self.settings
        start = ", ".join(f"{key}={path}" for key, path in self.started_from.items()) or "random initialisation"
        precision = "fp16 autocast with gradient scaling" if self.amp else "fp32"
        processes = f", {self.ranks.world} processes" if self.ranks.world > 1 else ""
        parts = f" in {settings.accumulate} micro-batches" if settings.accumulate > 1 else ""
        declared = self.declared_flows
        inputs = (
            f"{self.flows.describe}, "
            if self.flows
            else (f"zero flows instead of its {declared.describe.split(',')[0]}, " if declared else "")
        )
        self.console.print(
            f"training {self.method.name} on {self.data.describe()}; frames {settings.size[0]}x{settings.size[1]}, "
            f"crops {settings.crop}x{settings.crop}, batch {settings.batch_size}{parts}, "
            f"{self.steps_per_epoch} steps per epoch, "
            f"lr {self.lr:g} ({self.schedule.spec()}), from {start}, {inputs}{precision} "
            f"on {device_name(self.device)}{processes}",
            highlight=False,
            soft_wrap=True,
        )
        if self.last is not None:
            self.console.print(
                f"resuming {self.out / checkpoints.LAST} at step {step} of {self.target}", highlight=False
            )

    def _provenance(self, step: int, val_psnr: float | None) -> dict:
        return {
            "method": self.method.name,
            "weights_key": self.method.trainable.weights_key,
            "steps": step,
            "epochs": step // self.steps_per_epoch,
            "steps_per_epoch": self.steps_per_epoch,
            "dataset": str(self.data.root.resolve()),
            "dataset_fingerprint": self.fingerprint,
            "train_triplets": len(self.data.train),
            "val_triplets": len(self.data.val),
            "validation": self.data.validation,
            "val_psnr": val_psnr,
            "best_val_psnr": self.best,
            "best_step": self.best_step,
            "settings": self.recorded,
            "started_from": self.started_from,
            "atdkit": atdkit.__version__,
            "torch": str(torch.__version__),
        }

    def _save_last(
        self, trainer: Trainer, history: History, step: int, plot: bool, val_psnr: float | None = None
    ) -> None:
        if not self.ranks.main:
            return
        resume_state = {**trainer.state(), "rng_state": checkpoints.rng_state(), "history": history.state()}
        checkpoints.save(self.out / checkpoints.LAST, self._provenance(step, val_psnr), trainer.network, resume_state)
        history.write(self.out, plot)

    def _validate_and_save(self, trainer: Trainer, history: History, step: int) -> None:
        """Validate; best.pt when the PSNR is the best yet (written before last.pt, which records it as
        best); last.pt."""
        loader = DataLoader(
            WholeTriplets(self.data.val[self.ranks.rank :: self.ranks.world], self.settings.size, self.flow_folders),
            batch_size=self.settings.batch_size // self.ranks.world,
            num_workers=self.settings.workers,
            generator=torch.Generator(),
        )  # not the global generator: validating must not change the run's randomness
        try:
            psnr = trainer.validate(loader)
        except (ValueError, OSError) as error:
            raise TrainError(one_line(error)) from None
        history.add_validation(step, psnr)
        better = self.best is None or psnr > self.best
        if better:
            self.best, self.best_step = psnr, step
            if self.ranks.main:
                checkpoints.save(self.out / checkpoints.BEST, self._provenance(step, psnr), trainer.network)
        self._save_last(trainer, history, step, plot=True, val_psnr=psnr)
        if self.ranks.main:
            epoch = step / self.steps_per_epoch
            where = f"epoch {epoch:g}" if epoch == int(epoch) else f"step {step} (epoch {epoch:.2f})"
            recent = history.losses[-self.steps_per_epoch :]
            self.console.print(
                f"{where}: training loss {sum(recent) / len(recent):.4f}, validation PSNR {psnr:.2f} dB"
                f"{' (best: best.pt)' if better else f' (best {self.best:.2f} dB at step {self.best_step})'}",
                highlight=False,
            )
