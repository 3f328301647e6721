"""SGM flows kept on disk, so that each triplet's flows are computed once, for benchmarks and training alike.

``DIR/<VGG-19 digest>-<style>/<triplet id>/`` holds the official flow files (``guide_flo13.npy``,
``guide_flo31.npy``) and ``frames.sha256``, the digest of the two frames (uint8, at the size the
flows were computed at) they came from. Flows are used only for the same frames, so one DIR can
serve any dataset, size and checkpoint; other VGG-19 weights or line styles get their own folders.
The digest is written last: a killed writer leaves flows without it, which count as absent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from atdkit.pipelines.formats.atd12k import FlowFileError, read_flows, write_flows
from atdkit.store import write_file

DIGEST = "frames.sha256"
Flows = tuple[np.ndarray, np.ndarray]


def frames_digest(frame0: np.ndarray, frame1: np.ndarray) -> str:
    digest = hashlib.sha256()
    for frame in (frame0, frame1):
        digest.update(str(frame.shape).encode())
        digest.update(np.ascontiguousarray(frame).data)
    return digest.hexdigest()


class FlowCache:
    """The flows of one VGG-19 file and line style under ``root``."""

    def __init__(self, root: Path, vgg_sha256: str, style: str):
        self.folder = Path(root) / f"{vgg_sha256[:12]}-{style}"

    def flows(self, triplet_id: str, frame0: np.ndarray, frame1: np.ndarray, compute: Callable[[], Flows]) -> Flows:
        """The triplet's flows read back when kept for these frames, else computed and kept."""
        folder = self.ensure(triplet_id, frame0, frame1, compute)
        try:
            return read_flows(folder, frame0.shape[:2])
        except FlowFileError:  # damaged since: computed again
            (folder / DIGEST).unlink(missing_ok=True)
            return read_flows(self.ensure(triplet_id, frame0, frame1, compute), frame0.shape[:2])

    def ensure(self, triplet_id: str, frame0: np.ndarray, frame1: np.ndarray, compute: Callable[[], Flows]) -> Path:
        """The folder holding the triplet's flows for these frames, computed first unless they are kept already."""
        folder, digest = self.folder / triplet_id, frames_digest(frame0, frame1)
        try:
            if (folder / DIGEST).read_text().strip() == digest:
                return folder
        except OSError:
            pass  # absent or half-written: computed again
        flows = compute()
        (folder / DIGEST).unlink(missing_ok=True)  # stale until the new flows are complete
        write_flows(folder, *flows)
        write_file(folder / DIGEST, digest + "\n")
        return folder
