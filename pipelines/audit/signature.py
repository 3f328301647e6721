"""A perceptual signature per triplet, robust to re-encoding, resizing and colour shifts, cached per triplet.

Frame hash (64 bits, a DCT hash in the manner of pHash, taken of the line drawing rather than the colours):

1. luma Y = 0.299 R + 0.587 G + 0.114 B and its gradient magnitude |(Sobel_x Y, Sobel_y Y)|: the ink
   lines and region borders of a drawing, which a colour or brightness shift leaves in place (the
   flat fills between them, which such shifts change, have no gradient);
2. area-averaged to 32x32 whatever the frame's size or aspect ratio (resolution changes and
   compression noise average out), then normalised to zero mean and unit variance (contrast);
3. the 2-D DCT-II of that 32x32 image; its 64 lowest-frequency AC coefficients, in zig-zag order;
4. bit k = coefficient k above the median of the 64, so the bits are balanced (32 ones) and a
   small change of the image flips few of them.

Triplet signature: the three frames' hashes, 192 bits. Two triplets' distance is the Hamming
distance of their signatures (0-192: the bits that differ, summed over frame1, frame2 and frame3);
unrelated triplets differ in about half their bits, 96.

Signatures are kept in ``signatures.parquet`` with the three frame files' sizes and modification
times: a later audit hashes only triplets that are new or whose frames changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pyarrow as pa

from atdkit.images import ImageError, read_rgb
from atdkit.store import Dataset

HASH_SIZE = 32  # side of the gradient image the DCT is taken of
HASH_BITS = 64
FRAMES = 3
SIGNATURE_BITS = FRAMES * HASH_BITS


def _zigzag(side: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the first ``count`` AC coefficients of a side x side DCT, lowest frequency first."""
    order = sorted(((r, c) for r in range(side) for c in range(side)), key=lambda rc: (rc[0] + rc[1], rc[0]))
    rows, cols = zip(*order[1 : count + 1])
    return np.array(rows), np.array(cols)


_ROWS, _COLS = _zigzag(HASH_SIZE, HASH_BITS)
_WEIGHTS = np.uint64(1) << np.arange(HASH_BITS, dtype=np.uint64)


def frame_hash(rgb: np.ndarray) -> np.uint64:
    """The 64-bit hash of one uint8 RGB frame (H, W, 3)."""
    luma = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    edges = cv2.magnitude(cv2.Sobel(luma, cv2.CV_32F, 1, 0), cv2.Sobel(luma, cv2.CV_32F, 0, 1))
    small = cv2.resize(edges, (HASH_SIZE, HASH_SIZE), interpolation=cv2.INTER_AREA)
    small = (small - small.mean()) / max(float(small.std()), 1e-6)
    coefficients = cv2.dct(small)[_ROWS, _COLS]
    return np.bitwise_or.reduce(_WEIGHTS[coefficients > np.median(coefficients)], initial=np.uint64(0))


def popcount(words: np.ndarray) -> np.ndarray:
    """Set bits of each uint64, as int64 of the same shape."""
    if hasattr(np, "bitwise_count"):  # NumPy 2
        return np.bitwise_count(words).astype(np.int64)
    return _BYTE_BITS[words.view(np.uint8).reshape(*words.shape, 8)].sum(-1, dtype=np.int64)


_BYTE_BITS = np.array([bin(b).count("1") for b in range(256)], np.uint8)


def distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distance of triplet signatures: ``a``, ``b`` (..., 3) uint64 -> (...) int64, 0-192."""
    return popcount(a ^ b).sum(-1)


def frames_stamp(folder: os.PathLike) -> str | None:
    """frame1-3's sizes and modification times (what a cached signature was computed from); None when one is missing."""
    try:
        stats = [os.stat(os.path.join(folder, f"frame{k}.png")) for k in (1, 2, 3)]
    except OSError:
        return None
    return " ".join(f"{s.st_size}:{s.st_mtime_ns}" for s in stats)


def triplet_signature(folder: os.PathLike) -> list[int]:
    return [int(frame_hash(read_rgb(os.path.join(folder, f"frame{k}.png")))) for k in (1, 2, 3)]


def dataset_signatures(
    dataset: Dataset, triplet_ids: list[str], workers: int = 2, advance: Callable[[int], None] = lambda n: None
) -> tuple[np.ndarray, list[str], int]:
    """Signatures (N, 3) uint64 of ``triplet_ids``, in that order, hashing only what the cache lacks.

    Returns the signatures, the ids whose frames are missing or unreadable (their rows are 0: leave
    them out), and how many triplets were hashed now. Rewrites the cache when something was hashed
    (the caller holds the dataset's write lock)."""
    cached = {row["triplet_id"]: row for row in dataset.rows("signatures")}
    signatures = np.zeros((len(triplet_ids), FRAMES), np.uint64)
    stamps = [frames_stamp(dataset.triplet_dir(t)) for t in triplet_ids]
    unreadable, todo = [], []
    for i, (triplet_id, stamp) in enumerate(zip(triplet_ids, stamps)):
        if stamp is None:
            unreadable.append(triplet_id)
        elif triplet_id in cached and cached[triplet_id]["frames"] == stamp:
            signatures[i] = cached[triplet_id]["signature"]
        else:
            todo.append(i)

    def hash_one(i: int) -> list[int] | None:
        try:
            return triplet_signature(dataset.triplet_dir(triplet_ids[i]))
        except ImageError:
            return None

    with ThreadPoolExecutor(max(1, workers)) as pool:  # OpenCV decodes and transforms without the GIL
        for i, signature in zip(todo, pool.map(hash_one, todo)):
            if signature is None:
                unreadable.append(triplet_ids[i])
                stamps[i] = None
            else:
                signatures[i] = signature
            advance(1)
    if todo:
        keep = [i for i, stamp in enumerate(stamps) if stamp is not None]
        dataset.write(
            "signatures",
            pa.table(
                {
                    "triplet_id": [triplet_ids[i] for i in keep],
                    "frames": [stamps[i] for i in keep],
                    "signature": pa.FixedSizeListArray.from_arrays(pa.array(signatures[keep].ravel()), FRAMES),
                }
            ),
        )
    return signatures, unreadable, len(todo)
