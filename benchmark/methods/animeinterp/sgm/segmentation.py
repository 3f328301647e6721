"""Colour-piece segmentation (section 4.1, after Zhang et al.'s trapped-ball line filler).

1. Trapped-ball fill of the line map with balls of radius 3, 2 and 1: a ball rolls inside the
   free area from the first place it fits (raster order), what it reaches is one piece, and the
   piece grows back by the ball's radius (so pieces do not leak through gaps narrower than the
   ball). Of the radius-3 pieces only the largest is kept (usually the background).
2. Flood fill: every free area left is a piece of its own.
3. Merge: small pieces join the neighbour whose colour histogram is most alike (up to 10 passes).
4. Thinning: line pixels take the label of a neighbouring piece, layer by layer.
5. Labels are renumbered 0..K-1 from the smallest piece to the largest.

The result is the official implementation's, pixel for pixel; where it scanned the whole
image once per piece, this works on each piece's bounding box (or on all pixels at once).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage
from scipy.sparse import csr_matrix

from atdkit.benchmark.methods.animeinterp.sgm.lines import fillable, style_of

BALL_RADII = (3, 2, 1)
MAX_BALL_FILLS = 1000  # per radius, as the official loop
MAX_FLOOD_FILLS = 20000
MERGE_PASSES = 10
MERGE_BELOW = 500  # pieces of fewer pixels may be merged
HISTOGRAM_BINS = 25
THINNING_PASSES = 100


def ball(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def grown(box: tuple[slice, slice], margin: int, shape: tuple[int, int]) -> tuple[slice, slice]:
    """``box`` enlarged by ``margin`` pixels on every side, clipped to an image of ``shape``."""
    return tuple(slice(max(s.start - margin, 0), min(s.stop + margin, size)) for s, size in zip(box, shape))


def next_set(flat: np.ndarray, candidates: np.ndarray, cursor: int, block: int = 256) -> int:
    """The first position from ``cursor`` on whose candidate pixel is still set in ``flat`` (or the end)."""
    while cursor < len(candidates):
        values = flat[candidates[cursor : cursor + block]]
        first = int(values.argmax())
        if values[first]:
            return cursor + first
        cursor += block
    return len(candidates)


def trapped_ball_fills(
    free: np.ndarray, radius: int, limit: int = MAX_BALL_FILLS
) -> list[tuple[tuple[slice, slice], np.ndarray]]:
    """The pieces a ball of ``radius`` fills one after the other in ``free`` (uint8, 255 = free),
    each as (bounding box, mask within it); pieces are disjoint and lie in the free area.

    The ball fits where the eroded free area is set; each piece is the 4-connected part of those
    centres holding the first one (raster order), dilated by the ball. After a piece is taken the
    ball no longer fits within its radius of it, so the centres within 2r of the piece go.
    """
    kernel = ball(radius)
    height, width = free.shape
    centres = (cv2.erode(free, kernel) == 255).astype(np.uint8)  # outside the image counts as free
    flat = centres.reshape(-1)
    candidates = np.flatnonzero(flat)
    fills, cursor = [], 0
    while len(fills) < limit:
        cursor = next_set(flat, candidates, cursor)
        if cursor == len(candidates):
            break
        y, x = divmod(int(candidates[cursor]), width)
        _, _, _, (left, top, w, h) = cv2.floodFill(centres, None, (x, y), 2, 0, 0, 4)
        # the taken centres, within 2r of their box: the piece is within r of them, what goes within 2r
        y0, x0, y1, x1 = (
            max(top - 2 * radius, 0),
            max(left - 2 * radius, 0),
            top + h + 2 * radius,
            left + w + 2 * radius,
        )
        reach = centres[y0:y1, x0:x1]
        piece = cv2.dilate((reach == 2).view(np.uint8), kernel)
        box = (
            slice(max(top - radius, 0), min(top + h + radius, height)),
            slice(max(left - radius, 0), min(left + w + radius, width)),
        )
        fills.append((box, piece[box[0].start - y0 : box[0].stop - y0, box[1].start - x0 : box[1].stop - x0] > 0))
        reach[cv2.dilate(piece, kernel) > 0] = 0
    return fills


def flood_fills(free: np.ndarray, limit: int = MAX_FLOOD_FILLS) -> np.ndarray:
    """Label map of the 4-connected free areas (``free`` == 255), numbered 1, 2, ... in the raster
    order of their first pixel (the order of repeated flood fills); areas past ``limit`` stay 0."""
    count, labels = cv2.connectedComponents((free == 255).astype(np.uint8), connectivity=4, ltype=cv2.CV_32S)
    flat = labels.reshape(-1)
    found, first = np.unique(flat, return_index=True)
    order = np.zeros(count, np.int32)
    ranked = found[found > 0][np.argsort(first[found > 0], kind="stable")]
    order[ranked] = np.arange(1, len(ranked) + 1, dtype=np.int32)
    order[order > limit] = 0
    return order[labels]


def fill_map(free: np.ndarray) -> np.ndarray:
    """Pieces of the line map ``free`` numbered in the order they were filled (0 = line, unfilled)."""
    labels = np.zeros(free.shape, np.int32)
    free = free.copy()
    next_id = 1
    for radius in BALL_RADII:
        fills = trapped_ball_fills(free, radius)
        if radius == BALL_RADII[0] and fills:
            largest = max(int(mask.sum()) for _, mask in fills)
            fills = [(box, mask) for box, mask in fills if mask.sum() >= largest]
        for box, mask in fills:
            labels[box][mask] = next_id
            free[box][mask] = 0
            next_id += 1
    floods = flood_fills(free)
    labels[floods > 0] = floods[floods > 0] + (next_id - 1)
    return labels


def bin_starts(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """For value ranges ``low[i]..high[i]`` (uint8), the first integer value of each bin of
    ``np.histogram(values, 25)`` and 256 after the last bin: (N, 26). The same edges (``np.linspace``
    over the range, widened by 0.5 when it is a single value) and the same rule (the last bin
    holds its upper edge)."""
    single = low == high
    first = np.where(single, low - 0.5, low.astype(np.float64))
    last = np.where(single, high + 0.5, high.astype(np.float64))
    edges = np.linspace(first, last, HISTOGRAM_BINS + 1, axis=1)
    # an integer value is at or above an edge exactly when it is at or above the edge's ceiling
    starts = np.clip(np.ceil(edges), 0, 256).astype(np.intp)
    starts[:, -1] = 256
    return starts


def histogram_bins(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """For value ranges ``low[i]..high[i]`` (uint8), the bin of every value 0..255 in
    ``np.histogram(values, 25)`` (:func:`bin_starts`): (N, 256)."""
    starts = bin_starts(low, high)[:, :-1] + 257 * np.arange(len(low))[:, None]
    steps = np.bincount(starts.reshape(-1), minlength=257 * len(low)).reshape(len(low), 257)
    return np.clip(np.cumsum(steps[:, :256], axis=1, dtype=np.int16) - 1, 0, HISTOGRAM_BINS - 1)


def value_counts(frame: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """(count, 3, 256): per label, how many of its pixels take each value in each channel, in
    OpenCV's B, G, R order (as the official code read its frames, so that similarities sum the
    same numbers in the same order and near-ties break the same way)."""
    codes = (labels.reshape(-1, 1).astype(np.int64) * 3 + np.arange(3)) * 256 + frame.reshape(-1, 3)[:, ::-1]
    return np.bincount(codes.reshape(-1), minlength=count * 3 * 256).reshape(count, 3, 256)


def colour_histograms(counts: np.ndarray) -> np.ndarray:
    """Per piece, from its value counts (N, 3, 256), the 25-bin histogram of each channel over the
    piece's own value range, L1-normalised: (N, 75), ``np.histogram(piece_values, 25)``'s counts."""
    seen = counts > 0
    low, high = seen.argmax(axis=2), 255 - seen[..., ::-1].argmax(axis=2)
    cumulative = np.zeros((counts.shape[0] * 3, 257), np.int64)  # values below each of 0..256
    np.cumsum(counts.reshape(-1, 256), axis=1, out=cumulative[:, 1:])
    below = np.take_along_axis(cumulative, bin_starts(low.reshape(-1), high.reshape(-1)), axis=1)
    histograms = np.diff(below, axis=1).reshape(len(counts), 3 * HISTOGRAM_BINS)
    return histograms / (3 * counts[:, 0].sum(axis=1))[:, None]  # the counts' sum: every value in its own range


def single_point(mask: np.ndarray) -> bool:
    """Whether the (first) outer contour of ``mask`` (uint8) simplifies to one point
    (approxPolyDP, 2% of its length)."""
    contour = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[-2][0]
    return len(cv2.approxPolyDP(contour, 0.02 * cv2.arcLength(contour, True), True)) == 1


@dataclass(frozen=True)
class Surroundings:
    """The pixels in or 4-adjacent to a set of pieces: their labels and, in the directions up, down,
    left, right, their neighbours' labels where those lie in the pieces (-1 elsewhere, outside the
    image included). Pieces made by merging only these pieces lie in them too, so their rings can
    be read from here after relabelling."""

    own: np.ndarray
    around: np.ndarray  # (4, N)

    @classmethod
    def of(cls, labels: np.ndarray, pieces: np.ndarray) -> Surroundings:
        inside = pieces[labels]
        near = inside.copy()
        near[1:] |= inside[:-1]
        near[:-1] |= inside[1:]
        near[:, 1:] |= inside[:, :-1]
        near[:, :-1] |= inside[:, 1:]
        ys, xs = np.nonzero(near)
        padded = np.pad(np.where(inside, labels, -1), 1, constant_values=-1)
        around = np.stack([padded[ys, xs + 1], padded[ys + 2, xs + 1], padded[ys + 1, xs], padded[ys + 1, xs + 2]])
        return cls(labels[ys, xs], around)

    def ring_contacts(self, current: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For every piece flagged in ``candidates`` (a bool per label) under the relabelling ``current``,
        the labels on its outer ring (the pixels 4-adjacent to it, outside it) and how many ring pixels
        carry each: three arrays (piece, label, pixels) sorted by piece, then label. A ring pixel counts
        once per piece."""
        labels = current[self.own]
        around = np.append(current, -1)[self.around]  # label -1 (outside the pieces) is never a candidate
        flagged = np.append(candidates, False)
        codes = []
        for k, neighbour in enumerate(around):
            ring = flagged[neighbour] & (neighbour != labels)
            for earlier in around[:k]:
                ring &= neighbour != earlier  # one contact per pixel and piece
            codes.append(neighbour[ring].astype(np.int64) * len(candidates) + labels[ring])
        pairs, pixels = np.unique(np.concatenate(codes), return_counts=True)
        return pairs // len(candidates), pairs % len(candidates), pixels


class MergingPieces:
    """The pieces of a label map while small ones merge: a relabelling ``current`` of the map's labels
    (the map is ``current[labels]``), and each piece's size, bounding box, value counts and colour
    histogram, summed from its parts when it grows."""

    def __init__(self, frame: np.ndarray, labels: np.ndarray):
        self.labels = labels
        count = int(labels.max()) + 1
        self.current = np.arange(count)
        self.areas = np.bincount(labels.reshape(-1), minlength=count)
        self.counts = value_counts(frame, labels, count)
        self.histograms = np.zeros((count, 3 * HISTOGRAM_BINS))
        ids = self.ids()
        self.histograms[ids] = colour_histograms(self.counts[ids])
        self.boxes = np.array(  # top, bottom, left, right of each label's pixels
            [(0, 0, 0, 0)]
            + [
                (0, 0, 0, 0) if box is None else (box[0].start, box[0].stop, box[1].start, box[1].stop)
                for box in ndimage.find_objects(labels)
            ]
        ).T.copy()
        self.surroundings = Surroundings.of(labels, self.small())

    def ids(self) -> np.ndarray:
        return np.flatnonzero(self.areas)

    def small(self) -> np.ndarray:
        """A bool per label: the pieces that may merge (label 0, the lines, never does)."""
        small = (self.areas > 0) & (self.areas < MERGE_BELOW)
        small[0] = False
        return small

    def outline_is_a_point(self, piece: int) -> bool:
        top, bottom, left, right = self.boxes[:, piece].tolist()
        region = grown((slice(top, bottom), slice(left, right)), 2, self.labels.shape)
        return single_point((self.current[self.labels[region]] == piece).astype(np.uint8))

    def relabel(self, now: np.ndarray, grew: list[int]) -> None:
        """Apply a pass's merges (``now``: each piece's new label; ``grew``: the pieces that took others in)."""
        ids = self.ids()
        self.current = now[self.current]
        self.areas = np.bincount(now[ids], self.areas[ids], len(now)).astype(np.int64)
        if not grew:
            return
        grew = np.array(sorted(grew))
        parts = ids[np.isin(now[ids], grew)]
        parts = parts[np.argsort(now[parts], kind="stable")]
        first = np.searchsorted(now[parts], grew)
        summing = csr_matrix(  # (grown piece, part) ones: a sparse product sums their value counts
            (np.ones(len(parts), np.int64), (np.searchsorted(grew, now[parts]), parts)), shape=(len(grew), len(now))
        )
        self.counts[grew] = (summing @ self.counts.reshape(len(now), -1)).reshape(-1, 3, 256)
        for side, reduce in zip(self.boxes, (np.minimum, np.maximum, np.minimum, np.maximum)):
            side[grew] = reduce.reduceat(side[parts], first)
        self.histograms[grew] = colour_histograms(self.counts[grew])

    def merge_pass(self) -> bool:
        """One pass over the small pieces in label order, each seeing the merges made before it; whether
        any piece changed label."""
        ids, small = self.ids(), self.small()
        pieces, ring_labels, ring_pixels = self.surroundings.ring_contacts(self.current, small)
        # similarities of each piece to its neighbours as the pass starts, all at once
        shared = np.minimum(self.histograms[pieces], self.histograms[ring_labels]).sum(axis=1).tolist()
        visited = np.flatnonzero(small)
        starts, stops = np.searchsorted(pieces, visited).tolist(), np.searchsorted(pieces, visited, "right").tolist()
        ring_labels, ring_pixels, areas = ring_labels.tolist(), ring_pixels.tolist(), self.areas.tolist()
        now, grew = list(range(len(small))), set()
        for piece, start, stop in zip(visited.tolist(), starts, stops):
            ring = range(start, stop)
            best, contact_at_best, score, new_id, neighbours = -1.0, -1, -1.0, piece, 0
            if all(now[ring_labels[i]] == ring_labels[i] for i in ring):  # no neighbour merged yet in this pass
                for i in ring:  # by increasing label
                    if ring_labels[i]:
                        neighbours, score = neighbours + 1, shared[i]
                        if score > best:
                            best, contact_at_best, new_id = score, ring_pixels[i], ring_labels[i]
            else:
                contacts: dict[int, int] = {}
                for i in ring:
                    contacts[now[ring_labels[i]]] = contacts.get(now[ring_labels[i]], 0) + ring_pixels[i]
                ordered = sorted(label for label in contacts if label != 0)
                neighbours = len(ordered)
                if ordered:
                    scores = np.minimum(self.histograms[ordered], self.histograms[piece]).sum(axis=1).tolist()
                    for neighbour, score in zip(ordered, scores):
                        if score > best:
                            best, contact_at_best, new_id = score, contacts[neighbour], neighbour
            area = areas[piece]
            if not neighbours and area < 5:
                new_id = 0  # a speck inside a line becomes line
            # the official rules; ``score`` is the last neighbour's, as there
            if (
                area == 1
                or (area < 300 and neighbours == 1)
                or (neighbours == 1 and contact_at_best > 2)
                or area < 50
                or (score > 0.2 and area < 150 and contact_at_best > 1)
                or (score > 0.25 and area < 250 and contact_at_best > 8)
                or self.outline_is_a_point(piece)
            ):
                now[piece] = new_id
                if new_id not in (0, piece):
                    grew.add(new_id)
        now = np.array(now)
        self.relabel(now, list(grew))
        return len(ids) != len(np.unique(now[ids]))


def merge_small_pieces(frame: np.ndarray, labels: np.ndarray, passes: int = MERGE_PASSES) -> np.ndarray:
    """Pieces under 500 pixels join a neighbour: the one whose colour histogram overlaps theirs
    most, under the official rules on size, contact and similarity. Pieces are visited in label
    order and each sees the merges made before it in the same pass (:class:`MergingPieces`)."""
    pieces = MergingPieces(frame, labels)
    for _ in range(passes):
        if not pieces.merge_pass():
            break
    return pieces.current[labels].astype(labels.dtype)


# neighbours a line pixel may take its label from, in the official order (dy, dx); its bounds
# checks (x - 1 > 0, y - 1 > 0, x + 1 < W, y + 1 < H) never look at row or column 0
THINNING_NEIGHBOURS = ((0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1))


def thin_lines(labels: np.ndarray, passes: int = THINNING_PASSES) -> np.ndarray:
    """Line pixels (0) next to a piece take the label of their first labelled neighbour, one layer per pass."""
    result = labels.copy()
    height, width = labels.shape
    for _ in range(passes):
        line = result == 0
        if not line.any():
            break
        free = ~line
        touches = np.zeros_like(line)
        touches[1:] |= free[:-1]
        touches[:-1] |= free[1:]
        touches[:, 1:] |= free[:, :-1]
        touches[:, :-1] |= free[:, 1:]
        ys, xs = np.nonzero(line & touches)
        taken = np.zeros(len(ys), bool)
        updated = result.copy()
        inside = {-1: (xs - 1 > 0, ys - 1 > 0), 1: (xs + 1 < width, ys + 1 < height)}
        for dy, dx in THINNING_NEIGHBOURS:
            ok = ~taken
            if dx:
                ok &= inside[dx][0]
            if dy:
                ok &= inside[dy][1]
            index = np.flatnonzero(ok)
            values = result[ys[index] + dy, xs[index] + dx]
            index, values = index[values != 0], values[values != 0]
            updated[ys[index], xs[index]] = values
            taken[index] = True
        if not taken.any():
            break  # nothing can change any more: the remaining passes would repeat this one
        result = updated
    return result


def squeeze(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..K-1 by increasing piece size (ties in NumPy's argsort order, as the official)."""
    sizes = np.bincount(labels.reshape(-1))
    found = np.flatnonzero(sizes)
    rank = np.zeros(len(sizes), np.int32)
    rank[found[np.argsort(sizes[found])]] = np.arange(len(found), dtype=np.int32)
    return rank[labels]


def segment(frame: np.ndarray, style: str = "japan") -> np.ndarray:
    """Colour pieces of ``frame`` (H, W, 3 uint8): an int32 label map, 0..K-1 from the smallest piece."""
    free = fillable(frame, style_of(style))
    labels = merge_small_pieces(frame, fill_map(free))
    return squeeze(thin_lines(labels))
