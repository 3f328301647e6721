"""Which triplet an annotator labels next, and the ones they already did.

The queue holds the triplets an annotator has not labelled yet. Triplets still short of
``per_triplet`` labels come first, the nearest to it first, so pairs complete early and
every triplet gets its ``per_triplet`` independent labels before any gets one more;
then the dataset's order. Sessions take the first of their queue that no other annotator was given
in the last ``LEASE_SECONDS`` (:class:`Leases`), so that two people starting together label different
triplets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping

LEASE_SECONDS = 300  # how long a triplet given to one annotator is not given to another


def labellers(answers: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    """triplet_id -> who labelled it, from (triplet_id, annotator) pairs."""
    result: dict[str, set[str]] = {}
    for triplet_id, annotator in answers:
        result.setdefault(triplet_id, set()).add(annotator)
    return result


def queue(triplet_ids: list[str], labelled_by: Mapping[str, set[str]], annotator: str, per_triplet: int) -> list[str]:
    """The triplets ``annotator`` has not labelled, in the order to label them."""

    def order(item: tuple[int, str]):
        position, triplet_id = item
        count = len(labelled_by.get(triplet_id, ()))
        return (count >= per_triplet, -count if count < per_triplet else count, position)

    todo = [(i, t) for i, t in enumerate(triplet_ids) if annotator not in labelled_by.get(t, ())]
    return [t for _, t in sorted(todo, key=order)]


def history(answers: Iterable[tuple[str, str]], annotator: str) -> list[str]:
    """Triplets ``annotator`` labelled, in the order of their first label (answers in time order)."""
    seen: dict[str, None] = {}
    for triplet_id, who in answers:
        if who == annotator:
            seen.setdefault(triplet_id)
    return list(seen)


class Leases:
    """Who was given which triplet, and when: shared by the sessions of one app process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._given: dict[str, tuple[str, float]] = {}  # triplet id -> (annotator, when)

    def take(self, annotator: str, todo: list[str], now: float | None = None) -> str | None:
        """The first of ``todo`` no one else holds (else its head), now held by ``annotator`` alone."""
        now = time.monotonic() if now is None else now
        with self._lock:
            held = {t for t, (who, since) in self._given.items() if who != annotator and now - since < LEASE_SECONDS}
            chosen = next((t for t in todo if t not in held), todo[0] if todo else None)
            self._given = {t: lease for t, lease in self._given.items() if lease[0] != annotator}
            if chosen is not None:
                self._given[chosen] = (annotator, now)
            return chosen
