"""Which triplet an annotator labels next, and the ones they already did.

The queue holds the triplets an annotator has not labelled yet. Triplets still short of
``per_triplet`` labels come first, the nearest to it first, so pairs complete early and
every triplet gets its ``per_triplet`` independent labels before any gets one more;
then the dataset's order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


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
