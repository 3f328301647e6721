"""How a film is timed: its drawings, how long each is held, and its shots.

Animation is drawn "on ones", "on twos" or "on threes": each drawing held for one, two or three
frames. Two consecutive frames show one drawing when their pair SSIM is above the extraction band
(what ``extract`` rejects as ``too_similar``). Below the band is a new drawing with large motion, or a
cut. It is a cut when the frames' compositions differ too: their 32x18 luma thumbnails correlate below
CUT_CORRELATION (zero-mean normalised cross-correlation: blind to a flicker's change of brightness) and
at least CUT_HISTOGRAM_CHANGE of their pixels change 16-level luma bin. On the shared clips this finds
the five cuts there are (*Hero* 114, 182, 230, 314: correlation -0.04 to 0.43, histogram change 0.37 to
0.52; *Copying Is Not Theft* 647: 0.11 and 0.23, each checked by eye) and none among the 71 other pairs
below the band (large drawing changes: correlation down to 0.12 but histogram change at most 0.11;
*Steamboat Willie*'s flicker: histogram change up to 0.29 but correlation at least 0.92). Everything
comes from the scan's cache (every interval-0 candidate's first pair is a consecutive pair; every frame
has its thumbnail), so timing costs no decoding.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from atdkit.pipelines.extraction.selection import Band

HOLDS = ("ones", "twos", "threes", "longer")  # a drawing held for 1, 2, 3 or more frames
CUT_CORRELATION = 0.5
CUT_HISTOGRAM_CHANGE = 0.2


@dataclass(frozen=True)
class Shot:
    start: int  # first frame
    stop: int  # one past the last frame
    holds: tuple[int, ...]  # frames each drawing of the shot is held, in order

    def shares(self) -> dict[str, float]:
        return hold_shares(self.holds)


def shots(consecutive: np.ndarray, thumbnails: np.ndarray, band: Band) -> list[Shot]:
    """The shots of a film of ``len(thumbnails)`` frames, where ``consecutive[i]`` is the pair SSIM of frames
    i and i+1 (NaN where unknown: taken as a new drawing) and ``thumbnails`` the frames' luma thumbnails."""
    found, start, holds, held = [], 0, [], 1
    for index, value in enumerate(consecutive, start=1):  # index: the later frame of the pair
        if value > band.high:
            held += 1
            continue
        holds.append(held)
        held = 1
        if value < band.low and is_cut(thumbnails[index - 1], thumbnails[index]):
            found.append(Shot(start, index, tuple(holds)))
            start, holds = index, []
    found.append(Shot(start, len(consecutive) + 1, (*holds, held)))
    return found


def is_cut(before: np.ndarray, after: np.ndarray) -> bool:
    """Whether two frames that are not one drawing (pair SSIM below the band), given as luma thumbnails, are
    on either side of a cut."""
    bins = [np.bincount(thumbnail.ravel() >> 4, minlength=16) for thumbnail in (before, after)]
    histogram_change = np.abs(bins[0] - bins[1]).sum() / (2 * before.size)
    a, b = (thumbnail.astype(np.float64) - thumbnail.mean() for thumbnail in (before, after))
    correlation = (a * b).sum() / max(np.sqrt((a * a).sum() * (b * b).sum()), 1e-9)
    return correlation < CUT_CORRELATION and histogram_change >= CUT_HISTOGRAM_CHANGE


def hold_shares(holds: tuple[int, ...] | list[int]) -> dict[str, float]:
    """The share of drawings held for one, two, three and more frames (keys: HOLDS)."""
    counts = Counter(min(hold, len(HOLDS)) for hold in holds)
    total = sum(counts.values()) or 1
    return {name: counts[length] / total for length, name in enumerate(HOLDS, start=1)}


def pattern(shares: dict[str, float]) -> str:
    """The timing most drawings follow ("ones", "twos", "threes", "longer"), or "mixed" when none has half."""
    name, share = max(shares.items(), key=lambda item: item[1])
    return name if share >= 0.5 else "mixed"


def consecutive_ssims(candidates: dict[str, np.ndarray], frame_count: int) -> np.ndarray | None:
    """Pair SSIMs of frames (i, i+1) from a film's cached CANDIDATES columns (``start``, ``interval``,
    ``ssim_12``, ``ssim_23``); None when the scan had no interval-0 candidates."""
    ones = candidates["interval"] == 0
    if not ones.any() or frame_count < 2:
        return None
    values = np.full(frame_count - 1, np.nan)
    starts = candidates["start"][ones]
    values[starts] = candidates["ssim_12"][ones]
    last = starts == frame_count - 3  # the film's last pair is only ever a candidate's second pair
    values[frame_count - 2] = candidates["ssim_23"][ones][last][0] if last.any() else np.nan
    return values
