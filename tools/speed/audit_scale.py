"""How ``atdkit audit``'s near-duplicate search scales: multi-index hashing over N triplet signatures.

Builds N random 192-bit signatures (balanced random bits: unrelated triplets), plants near-duplicates
(copies of random rows with 0 to THRESHOLD random bits flipped), finds every pair within the threshold
with :func:`atdkit.pipelines.audit.index.near_pairs`, and prints the seconds, found/planted recall,
and the ratio to a comparison of all pairs, timed on a sample of rows and extrapolated to N(N-1)/2.

    python tools/speed/audit_scale.py --n 1000000 --planted 10000 --threshold 12
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from atdkit.pipelines.audit.index import layout_for, near_pairs
from atdkit.pipelines.audit.signature import distance


def planted_signatures(n: int, planted: int, threshold: int, seed: int) -> tuple[np.ndarray, set[tuple[int, int]]]:
    rng = np.random.default_rng(seed)
    signatures = rng.integers(0, np.iinfo(np.uint64).max, (n, 3), dtype=np.uint64, endpoint=True)
    copies = rng.choice(n, 2 * planted, replace=False)
    originals, targets = copies[:planted], copies[planted:]
    for original, target in zip(originals, targets):
        flips = rng.choice(192, rng.integers(0, threshold + 1), replace=False)
        mask = np.zeros(3, np.uint64)
        for bit in flips:
            mask[bit // 64] |= np.uint64(1) << np.uint64(bit % 64)
        signatures[target] = signatures[original] ^ mask
    return signatures, {(min(a, b), max(a, b)) for a, b in zip(originals.tolist(), targets.tolist())}


def all_pairs_seconds(signatures: np.ndarray, sample: int = 2000) -> float:
    """Seconds to compare all N(N-1)/2 pairs, extrapolated from ``sample`` rows against all N."""
    start = time.perf_counter()
    for row in signatures[:sample]:
        distance(signatures, row)
    per_row = (time.perf_counter() - start) / sample
    return per_row * len(signatures) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--planted", type=int, default=10_000)
    parser.add_argument("--threshold", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    signatures, planted = planted_signatures(args.n, args.planted, args.threshold, args.seed)
    layout = layout_for(args.threshold)
    start = time.perf_counter()
    i, j, d = near_pairs(signatures, args.threshold)
    seconds = time.perf_counter() - start
    found = set(zip(i.tolist(), j.tolist()))
    brute = all_pairs_seconds(signatures)
    print(
        f"N={args.n:,} signatures, {len(planted):,} planted near-duplicates (0-{args.threshold} bits), "
        f"threshold {args.threshold}: {layout.chunks} chunks of {8 * layout.chunk_bytes} bits, probing radius "
        f"{layout.radius} (exact up to {layout.exact_up_to} bits)"
    )
    print(
        f"multi-index hashing: {seconds:.1f} s, {len(found):,} pairs found, "
        f"recall {len(planted & found) / len(planted):.4f} "
        f"({len(planted & found):,}/{len(planted):,} planted), {len(found - planted):,} others; "
        f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    print(f"all pairs (extrapolated from 2,000 rows): {brute:,.0f} s, {brute / seconds:,.0f}x slower")


if __name__ == "__main__":
    main()
