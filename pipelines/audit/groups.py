"""Near-duplicate pairs -> groups of triplets (union-find) and content groups of films.

A group is a connected component of the graph whose edges are the near-duplicate pairs: A ~ B and
B ~ C put A, B and C in one group even when A and C are further apart. Films that share a group
share content (a copy, a re-encode, a trailer cut from the film...) and form one content group.
"""

from __future__ import annotations

import numpy as np


class UnionFind:
    """Disjoint sets over 0..n-1 (path halving, union by size)."""

    def __init__(self, n: int):
        self.parent, self.size = np.arange(n), np.ones(n, np.int64)

    def find(self, a: int) -> int:
        parent = self.parent
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return int(a)

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            if self.size[a] < self.size[b]:
                a, b = b, a
            self.parent[b], self.size[a] = a, self.size[a] + self.size[b]

    def labels(self) -> np.ndarray:
        """Per element, its set numbered from 0 in order of the set's first element."""
        roots = np.array([self.find(a) for a in range(len(self.parent))], np.int64)
        _, first, inverse = np.unique(roots, return_index=True, return_inverse=True)
        return np.argsort(np.argsort(first))[inverse]


def triplet_groups(n: int, i: np.ndarray, j: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triplet (rows 0..n-1, in triplet-id order): its group (-1 when it has no near-duplicate),
    groups numbered from 0 in order of their first triplet; and its distance to its closest match."""
    sets = UnionFind(n)
    for a, b in zip(i.tolist(), j.tolist()):
        sets.union(a, b)
    closest = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(closest, i, d)
    np.minimum.at(closest, j, d)
    matched = closest < np.iinfo(np.int64).max
    group = np.full(n, -1)
    if matched.any():
        roots = sets.labels()[matched]
        _, first, inverse = np.unique(roots, return_index=True, return_inverse=True)
        group[matched] = np.argsort(np.argsort(first))[inverse]
    return group, np.where(matched, closest, 0)


def content_groups(sources: list[str], pair_sources: list[tuple[str, str]]) -> dict[str, int]:
    """Per film (``sources``, sorted), its content group: films linked by a near-duplicate pair share one."""
    position = {s: k for k, s in enumerate(sources)}
    sets = UnionFind(len(sources))
    for a, b in pair_sources:
        sets.union(position[a], position[b])
    return dict(zip(sources, sets.labels().tolist()))
