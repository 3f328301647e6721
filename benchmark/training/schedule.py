"""Learning-rate schedules (``--schedule``): the base rate times a factor that depends on the step.

- ``constant``: the base rate throughout (the paper's fine-tuning);
- ``step:EPOCHS:GAMMA``: multiplied by GAMMA every EPOCHS epochs;
- ``multistep:E1,E2,...:GAMMA``: multiplied by GAMMA at each of the epochs E1, E2, ... (the
  paper's training phase: ``multistep:100,150:0.1``);
- ``cosine``: cosine decay from the base rate to 0 over the run.

Epochs may be fractional; they are converted to steps (at least 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FORMS = "constant, step:EPOCHS:GAMMA, multistep:E1,E2,...:GAMMA or cosine"


@dataclass(frozen=True)
class Schedule:
    kind: str  # constant, step, multistep or cosine
    epochs: tuple[float, ...] = ()  # step: the period; multistep: the milestones
    gamma: float = 1.0
    steps_per_epoch: int = 1
    total_steps: int = 1  # cosine decays to 0 at this step

    def factor(self, step: int) -> float:
        """The multiplier of the base rate for the optimizer step that follows ``step`` steps."""
        if self.kind == "step":
            return self.gamma ** (step // self._steps(self.epochs[0]))
        if self.kind == "multistep":
            return self.gamma ** sum(step >= self._steps(epoch) for epoch in self.epochs)
        if self.kind == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(step, self.total_steps) / self.total_steps))
        return 1.0

    def _steps(self, epochs: float) -> int:
        return max(1, round(epochs * self.steps_per_epoch))

    def spec(self) -> str:
        """The schedule as recorded: resumed runs must give the same (cosine names its length in steps)."""
        numbers = ",".join(f"{epoch:g}" for epoch in self.epochs)
        return {"constant": "constant", "cosine": f"cosine:{self.total_steps}"}.get(
            self.kind, f"{self.kind}:{numbers}:{self.gamma:g}"
        )


def parse_schedule(text: str, steps_per_epoch: int, total_steps: int) -> Schedule:
    """``--schedule``'s value as a Schedule; ValueError (one line) when it is none of FORMS."""
    kind, *fields = text.strip().split(":")
    problem = f"--schedule {text!r}: expected {FORMS}"
    if kind in ("constant", "cosine") and not fields:
        return Schedule(kind, steps_per_epoch=steps_per_epoch, total_steps=max(1, total_steps))
    if kind not in ("step", "multistep") or len(fields) != 2:
        raise ValueError(problem)
    try:
        epochs = tuple(float(value) for value in fields[0].split(","))
        gamma = float(fields[1])
    except ValueError:
        raise ValueError(problem) from None
    if not all(epoch > 0 for epoch in epochs) or not gamma > 0 or (kind == "step" and len(epochs) != 1):
        raise ValueError(f"{problem} (epochs and GAMMA positive, one period for step)")
    return Schedule(kind, tuple(sorted(epochs)), gamma, steps_per_epoch, max(1, total_steps))
