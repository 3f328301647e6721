"""Difficulty suggested from motion, and its calibration against human labels (paper, section 3.2).

The paper grades triplets "easy", "medium" or "hard" by the average magnitude of motion and
the area of occlusion. The suggestion does the same with two measures from ``motion.parquet``:

- **motion**: ``flow_mean`` as a percentage of the frame diagonal, so one threshold means
  the same on 960x540 and 1920x1080 frames (1% is 11 px at 960x540, 22 px at 1920x1080);
- **occlusion**: ``occlusion_ratio``, the share of pixels without a consistent match.

A triplet is at least "medium" when either measure reaches its medium threshold, and "hard"
when either reaches its hard threshold. Defaults (:class:`Thresholds`): medium from 1% motion
or 5% occlusion, hard from 3% motion or 15% occlusion. ``atdkit stats --calibrate`` fits the
four thresholds to the human difficulties in ``labels.parquet`` by maximising Cohen's
quadratic-weighted kappa (coordinate ascent over the midpoints between observed values) and
saves them in ``stats/difficulty_thresholds.json``, which later runs use.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from atdkit.schema import DIFFICULTIES
from atdkit.store import write_file

LEVELS = list(range(len(DIFFICULTIES)))
MAX_CANDIDATES = 1000  # threshold values tried per measure when calibrating
MIN_CALIBRATION_LABELS = 10


@dataclass(frozen=True)
class Thresholds:
    """Where "medium" and "hard" begin; ``inf`` (saved as null) means never by that measure."""

    motion_medium: float = 1.0  # flow_mean, % of the frame diagonal
    motion_hard: float = 3.0
    occlusion_medium: float = 0.05  # occlusion_ratio, share of pixels
    occlusion_hard: float = 0.15

    def __post_init__(self):
        if not (0 <= self.motion_medium <= self.motion_hard and 0 <= self.occlusion_medium <= self.occlusion_hard):
            raise ValueError(f"thresholds need 0 <= medium <= hard for each measure, got {self}")

    def levels(self, motion: np.ndarray, occlusion: np.ndarray) -> np.ndarray:
        """Suggested level (index in DIFFICULTIES) of each triplet."""
        by_motion = (motion >= self.motion_medium).astype(int) + (motion >= self.motion_hard)
        by_occlusion = (occlusion >= self.occlusion_medium).astype(int) + (occlusion >= self.occlusion_hard)
        return np.maximum(by_motion, by_occlusion)

    def describe(self) -> str:
        def at(value: float, unit: str) -> str:
            return "never" if math.isinf(value) else f"{value:.3g}{unit}"

        return (
            f"medium from motion {at(self.motion_medium, '%')} or occlusion {at(self.occlusion_medium * 100, '%')}, "
            f"hard from motion {at(self.motion_hard, '%')} or occlusion {at(self.occlusion_hard * 100, '%')}"
        )

    def to_json(self, **extra) -> str:
        values = {k: (None if math.isinf(v) else v) for k, v in asdict(self).items()}
        return json.dumps({**values, **extra}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Thresholds:
        data = json.loads(text)
        return cls(**{f.name: math.inf if data[f.name] is None else float(data[f.name]) for f in fields(cls)})

    @classmethod
    def load(cls, path: Path) -> Thresholds:
        """The thresholds saved at ``path`` by a calibration, else the defaults."""
        if not path.exists():
            return cls()
        try:
            return cls.from_json(path.read_text())
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: not a difficulty thresholds file ({error})") from None

    def save(self, path: Path, **extra) -> None:
        write_file(path, self.to_json(**extra))


def motion_percent(flow_mean: np.ndarray, width: np.ndarray, height: np.ndarray) -> np.ndarray:
    """``flow_mean`` (pixels) as a percentage of the frame diagonal."""
    return 100.0 * np.asarray(flow_mean, float) / np.hypot(width, height)


def quadratic_kappa(human: np.ndarray, suggested: np.ndarray) -> float:
    """Cohen's quadratic-weighted kappa; -1 where it is undefined (a single level in both)."""
    from sklearn.metrics import cohen_kappa_score  # imported when needed: measuring workers never are

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kappa = cohen_kappa_score(human, suggested, labels=LEVELS, weights="quadratic")
    return -1.0 if math.isnan(kappa) else float(kappa)


@dataclass(frozen=True)
class Agreement:
    """How suggestions compare with human levels."""

    n: int
    kappa: float  # quadratic-weighted
    confusion: np.ndarray  # [human level, suggested level] counts
    exact: float  # share of identical levels


def agreement(human: np.ndarray, suggested: np.ndarray) -> Agreement:
    from sklearn.metrics import confusion_matrix

    human, suggested = np.asarray(human, int), np.asarray(suggested, int)
    return Agreement(
        n=len(human),
        kappa=quadratic_kappa(human, suggested),
        confusion=confusion_matrix(human, suggested, labels=LEVELS),
        exact=float(np.mean(human == suggested)) if len(human) else 0.0,
    )


def _candidates(values: np.ndarray) -> np.ndarray:
    """0, the midpoints between consecutive distinct values (at most MAX_CANDIDATES) and inf."""
    distinct = np.unique(values)
    middles = (distinct[1:] + distinct[:-1]) / 2
    if len(middles) > MAX_CANDIDATES:
        middles = middles[np.linspace(0, len(middles) - 1, MAX_CANDIDATES).round().astype(int)]
    return np.concatenate([[0.0], middles, [math.inf]])


def _kappas(human: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Quadratic-weighted kappa of each row of ``predictions`` (C, N) against ``human`` (N,).

    The formula of :func:`quadratic_kappa` on C confusion matrices at once: the calibration
    scores every candidate value of a threshold in one call (the tests check both agree).
    """
    k, rows = len(LEVELS), len(predictions)
    cells = human[None, :] * k + predictions + (np.arange(rows) * k * k)[:, None]
    counts = np.bincount(cells.ravel(), minlength=rows * k * k).reshape(rows, k, k).astype(float)
    expected = counts.sum(2)[:, :, None] * counts.sum(1)[:, None, :] / len(human)
    weights = (np.subtract.outer(LEVELS, LEVELS) ** 2)[None]
    disagreement = (weights * expected).sum((1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        kappas = 1.0 - (weights * counts).sum((1, 2)) / disagreement
    return np.where(disagreement > 0, kappas, -1.0)


def calibrate(
    motion: np.ndarray, occlusion: np.ndarray, human: np.ndarray, start: Thresholds | None = None
) -> Thresholds:
    """Thresholds that maximise the quadratic-weighted kappa between suggestions and ``human`` levels.

    Coordinate ascent: each threshold in turn takes the candidate value that scores best with
    the others fixed, until a round changes nothing; then each is centred among the values that
    score as well. It starts from ``start`` (default thresholds when None) and from
    motion-only thresholds, and keeps the better result.
    """
    motion, occlusion, human = np.asarray(motion, float), np.asarray(occlusion, float), np.asarray(human, int)
    if len(human) < MIN_CALIBRATION_LABELS or len(np.unique(human)) < 2:
        raise ValueError(
            f"calibration needs at least {MIN_CALIBRATION_LABELS} human difficulties covering two levels, "
            f"got {len(human)} covering {len(np.unique(human))}"
        )
    values = {"motion": motion, "occlusion": occlusion}
    candidates = {name: _candidates(v) for name, v in values.items()}

    def best_value(t: Thresholds, name: str) -> tuple[float, float]:
        measure, level = name.split("_")
        medium, hard = getattr(t, f"{measure}_medium"), getattr(t, f"{measure}_hard")
        options = candidates[measure]
        options = options[options <= hard] if level == "medium" else options[options >= medium]
        by_other = replace(t, **{f"{measure}_medium": math.inf, f"{measure}_hard": math.inf}).levels(motion, occlusion)
        mine = values[measure][None, :]
        if level == "medium":
            by_measure = (mine >= options[:, None]).astype(int) + (mine >= hard)
        else:
            by_measure = (mine >= medium).astype(int) + (mine >= options[:, None])
        kappas = _kappas(human, np.maximum(by_other[None, :], by_measure))
        tied = np.flatnonzero(kappas >= kappas.max() - 1e-12)
        return float(options[tied[len(tied) // 2]]), float(kappas.max())

    names = ("motion_medium", "motion_hard", "occlusion_medium", "occlusion_hard")

    def ascend(t: Thresholds) -> tuple[float, Thresholds]:
        best = quadratic_kappa(human, t.levels(motion, occlusion))
        for _ in range(50):
            improved = False
            for name in names:
                value, kappa = best_value(t, name)
                if kappa > best + 1e-12:
                    best, t, improved = kappa, replace(t, **{name: value}), True
            if not improved:
                break
        for name in names:  # centre each threshold in the range that scores as well
            value, kappa = best_value(t, name)
            if kappa >= best - 1e-12:
                t = replace(t, **{name: value})
        return best, t

    starts = [start or Thresholds(), Thresholds(occlusion_medium=math.inf, occlusion_hard=math.inf)]
    return max((ascend(s) for s in starts), key=lambda result: result[0])[1]
