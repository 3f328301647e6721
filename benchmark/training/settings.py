"""What an ``atdkit train`` run is asked to do, checked before anything runs.

The settings that decide the numbers (sizes, batch, learning rate and schedule, validation
share, seed, the network's flows, precision) are recorded in every checkpoint; ``--resume`` refuses to
continue a run under different ones. How long to train, how often to save, the workers, the
micro-batches and the device may change between a run and its resumption.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PAPER_SIZE = (960, 540)  # section 4.4: frames rescaled to 960x540 ...
PAPER_CROP = 380  # ... randomly cropped to 380x380 ...
PAPER_BATCH = 16  # ... in batches of 16
LR_FROM_SCRATCH, LR_FINE_TUNING = 1e-4, 1e-6
DEFAULT_EPOCHS = 50  # the paper's fine-tuning phase on ATD-12K


class TrainError(Exception):
    """A training run that cannot start or go on as asked; the message is one line."""


@dataclass(frozen=True)
class TrainSettings:
    size: tuple[int, int] = PAPER_SIZE  # (W, H) frames are rescaled to
    crop: int = PAPER_CROP  # side of the square training crops
    batch_size: int = PAPER_BATCH  # triplets per step, over all processes
    accumulate: int = (
        1  # micro-batches each process splits its share of a step into (gradients accumulated): less memory, same step
    )
    lr: float | None = (
        None  # None: LR_FINE_TUNING with a starting checkpoint of the whole network, else LR_FROM_SCRATCH
    )
    schedule: str = "constant"  # see atdkit.benchmark.training.schedule
    steps: int | None = None  # train until this many steps ...
    epochs: int | None = None  # ... or epochs (DEFAULT_EPOCHS when neither is given)
    val_fraction: float = 0.1  # share of the training triplets held out for validation, by source
    save_every: int = 500  # steps between two saves of last.pt (it is saved at each epoch's end too)
    amp: bool = True  # mixed precision (autocast + gradient scaling), on CUDA only
    seed: int = 0
    workers: int = min(4, os.cpu_count() or 1)  # data-loading processes
    device: str = "auto"

    def check(self) -> None:
        """TrainError (one line) for a value no run can use."""
        width, height = self.size
        problems = [
            (self.crop < 1, f"--crop must be at least 1, got {self.crop}"),
            (
                self.crop > min(width, height),
                f"--crop {self.crop} is larger than the training frames ({width}x{height}, --size): "
                "crops must fit inside them",
            ),
            (self.batch_size < 1, f"--batch-size must be at least 1, got {self.batch_size}"),
            (self.accumulate < 1, f"--accumulate must be at least 1, got {self.accumulate}"),
            (self.lr is not None and not self.lr > 0, f"--lr must be positive, got {self.lr}"),
            (self.steps is not None and self.steps < 1, f"--steps must be at least 1, got {self.steps}"),
            (self.epochs is not None and self.epochs < 1, f"--epochs must be at least 1, got {self.epochs}"),
            (self.steps is not None and self.epochs is not None, "give --steps or --epochs, not both"),
            (
                not 0 < self.val_fraction < 1,
                f"--val-fraction must be between 0 and 1 (exclusive), got {self.val_fraction}",
            ),
            (self.save_every < 1, f"--save-every must be at least 1, got {self.save_every}"),
            (self.workers < 0, f"--workers must be 0 or more, got {self.workers}"),
        ]
        for failed, message in problems:
            if failed:
                raise TrainError(message)

    def target_steps(self, steps_per_epoch: int) -> int:
        """The step the run ends at."""
        return self.steps if self.steps is not None else (self.epochs or DEFAULT_EPOCHS) * steps_per_epoch

    def recorded(self, lr: float, schedule: str, flows: str | None, amp: bool) -> dict:
        """The settings that decide the numbers, as resolved for this run (what a resumed run must repeat)."""
        return {
            "size": list(self.size),
            "crop": self.crop,
            "batch_size": self.batch_size,
            "lr": lr,
            "schedule": schedule,
            "val_fraction": self.val_fraction,
            "seed": self.seed,
            "flows": flows,
            "mixed_precision": amp,
        }


OPTIONS = {  # recorded setting -> the option that sets it, for messages
    "size": "--size",
    "crop": "--crop",
    "batch_size": "--batch-size",
    "lr": "--lr",
    "schedule": "--schedule",
    "val_fraction": "--val-fraction",
    "seed": "--seed",
    "flows": "the method's options",
    "mixed_precision": "--no-amp / --device",
}
