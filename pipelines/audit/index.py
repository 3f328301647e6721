"""Every pair of triplet signatures within a distance, without comparing all pairs: multi-index hashing.

Multi-index hashing (Norouzi, Punjani and Fleet, CVPR 2012) cuts the 192-bit signature into ``m``
disjoint chunks. If two signatures differ in at most ``D`` bits, some chunk differs in at most
``floor(D / m)`` of them (pigeonhole), so probing each chunk's buckets at that radius ``r`` finds
every pair: exact search, no pair is missed, whenever ``m (r + 1) > D``. Each chunk is a table: the
signatures sorted by the chunk's value, with a direct-address array of bucket starts (2^bits
entries). A probe of radius 1 visits the bucket of the chunk value itself and the ``bits`` buckets
one bit away. Only the candidates that share a bucket are compared, in batches, with the full
192-bit distance.

For N unrelated signatures (balanced random bits) one table yields about
N^2 (1 + r bits) / 2^(bits + 1) candidates; with the layout for ``D <= 15`` (8 chunks of 24 bits,
radius 1) that is 25 N^2 / 2^25, a 1/1.3 millionth of the N^2 / 2 pairs per table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atdkit.pipelines.audit.signature import SIGNATURE_BITS, distance

BYTES = SIGNATURE_BITS // 8
LAYOUTS = ((3, 0), (3, 1), (2, 1), (1, 1))  # (bytes per chunk, probing radius), cheapest first
BATCH = 1 << 21  # candidate pairs compared at a time


@dataclass(frozen=True)
class Layout:
    chunk_bytes: int
    radius: int

    @property
    def chunks(self) -> int:
        return BYTES // self.chunk_bytes

    @property
    def exact_up_to(self) -> int:
        """The largest distance at which no pair can be missed."""
        return self.chunks * (self.radius + 1) - 1


def layout_for(max_distance: int) -> Layout:
    """The cheapest layout that finds every pair within ``max_distance``; ValueError above the largest."""
    for chunk_bytes, radius in LAYOUTS:
        layout = Layout(chunk_bytes, radius)
        if layout.exact_up_to >= max_distance:
            return layout
    raise ValueError(f"a distance above {Layout(*LAYOUTS[-1]).exact_up_to} bits is not a near-duplicate")


def _chunk_keys(signatures: np.ndarray, layout: Layout) -> np.ndarray:
    """(chunks, N) integer value of each chunk of each signature."""
    raw = np.ascontiguousarray(signatures, dtype="<u8").view(np.uint8).reshape(len(signatures), BYTES)
    parts = raw.reshape(len(signatures), layout.chunks, layout.chunk_bytes).astype(np.int64)
    return (parts << (8 * np.arange(layout.chunk_bytes))).sum(-1).T


class _Table:
    """One chunk's buckets: the signatures in order of the chunk's value, and a direct-address array
    of where each value's run starts (2^bits + 1 entries: 64 MiB for 24-bit chunks)."""

    def __init__(self, keys: np.ndarray, bits: int):
        self.keys, self.order = keys, np.argsort(keys, kind="stable")
        self.starts = np.zeros((1 << bits) + 1, np.int32 if len(keys) < 2**31 else np.int64)
        np.cumsum(np.bincount(keys, minlength=1 << bits), out=self.starts[1:])

    def bucket(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where in ``order`` each value's bucket starts, and its size."""
        low = self.starts[values].astype(np.int64)
        return low, self.starts[values + 1] - low

    def pairs(self, probe: int):
        """Batches of about BATCH pairs (i, j), i < j, with keys[j] == keys[i] ^ probe."""
        low, counts = self.bucket(self.keys ^ probe)
        ends = np.cumsum(counts)
        cuts = np.searchsorted(ends, np.arange(BATCH, ends[-1], BATCH), "right")
        bounds = np.unique(np.concatenate([[0], cuts, [len(self.keys)]]).astype(np.int64))
        for first, last in zip(bounds[:-1], bounds[1:]):
            n = counts[first:last]
            i = np.repeat(np.arange(first, last), n)
            j = self.order[np.repeat(low[first:last] - (np.cumsum(n) - n), n) + np.arange(int(n.sum()))]
            keep = i < j
            yield i[keep], j[keep]


def near_pairs(signatures: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (i, j), i < j, of rows of ``signatures`` (N, 3) uint64 within ``max_distance`` bits,
    with its distance; sorted by (i, j)."""
    layout = layout_for(max_distance)
    if len(signatures) < 2:
        return (np.zeros(0, np.int64),) * 3
    bits = 8 * layout.chunk_bytes
    probes = [0] + ([1 << b for b in range(bits)] if layout.radius else [])
    found = [np.zeros(0, np.int64)]
    for keys in _chunk_keys(signatures, layout):
        table = _Table(keys, bits)
        for probe in probes:
            for i, j in table.pairs(probe):
                close = distance(signatures[i], signatures[j]) <= max_distance
                found.append(i[close] * len(signatures) + j[close])
    pairs = np.unique(np.concatenate(found))
    i, j = pairs // len(signatures), pairs % len(signatures)
    return i, j, distance(signatures[i], signatures[j])


def brute_force_pairs(signatures: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same pairs by comparing every pair (a reference for small N)."""
    d = distance(signatures[:, None], signatures[None])
    i, j = np.nonzero(np.triu(d <= max_distance, 1))
    return i, j, d[i, j]
