"""Pre-screening flags: a dissolve, a flash and a text card are flagged; motion, brightness that drifts and a flat
cartoon are not; extraction screens every kept triplet and --refilter keeps what the scan found."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from atdkit.pipelines.extraction.flags import FrameFacts
from atdkit.pipelines.extraction.flags import flags as flags_of
from atdkit.store import Dataset
from helpers import cartoon_triplet, run_cli

SIZE = (320, 180)


def flags(*lumas: np.ndarray) -> list[str]:
    return flags_of(*(FrameFacts(luma) for luma in lumas))


def luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


@pytest.fixture
def moving() -> list[np.ndarray]:
    return [luma(frame) for frame in cartoon_triplet(np.random.default_rng(1), SIZE)]


@pytest.fixture
def other_scene() -> np.ndarray:
    return luma(cartoon_triplet(np.random.default_rng(2), SIZE)[0])


def text_card(shift: int = 0) -> np.ndarray:
    card = np.full((SIZE[1], SIZE[0]), 40, np.uint8)
    for line in range(5):
        cv2.putText(card, "Federal law forbids", (12 + shift, 30 + 30 * line), cv2.FONT_HERSHEY_SIMPLEX, 0.55, 230)
    return card.astype(np.float32)


def test_motion_is_not_flagged(moving):
    assert flags(*moving) == []


def test_a_dissolve_and_a_fade_to_black_are_flagged(moving, other_scene):
    start, end = moving[0], other_scene
    for weight in (0.3, 0.5, 0.7):
        assert flags(start, (1 - weight) * start + weight * end, end) == ["fade"]
    black = np.zeros_like(start)
    assert flags(start, 0.5 * start, black) == ["fade"]


def test_a_flash_is_flagged_but_a_drift_of_brightness_is_not(moving):
    first, middle, last = moving
    assert flags(first, np.clip(middle + 60, 0, 255), last) == ["flash"]
    assert flags(first, middle + 6, last + 12) == []  # a slow drift of brightness: neither a flash nor a fade


def test_a_text_card_is_flagged_and_a_flat_cartoon_is_not(moving):
    assert flags(text_card(0), text_card(3), text_card(6)) == ["text_card"]
    flat = [np.where(frame > 0, 200.0, 0.0).astype(np.float32) for frame in moving]
    assert "text_card" not in flags(*flat)


def test_extraction_screens_every_kept_triplet_and_refilter_keeps_it(synth_clip, tmp_path):
    clip, _ = synth_clip
    out = tmp_path / "ds"
    assert run_cli("extract", "--videos", clip, "--out", out).returncode == 0
    screened = {row["triplet_id"]: row["flags"] for row in Dataset(out).rows("triplets")}
    assert screened and all(hints == [] for hints in screened.values())  # screened (not null), nothing found
    assert run_cli("extract", "--refilter", out, "--min-gap", "6").returncode == 0
    again = {row["triplet_id"]: row["flags"] for row in Dataset(out).rows("triplets")}
    assert len(again) > len(screened) and all(hints == [] for hints in again.values())
