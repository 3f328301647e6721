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

import cv2
import numpy as np
from scipy import ndimage

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
        hits = np.flatnonzero(flat[candidates[cursor : cursor + block]])
        if len(hits):
            return cursor + int(hits[0])
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
    shape = free.shape
    centres = (cv2.erode(free, kernel) == 255).astype(np.uint8)  # outside the image counts as free
    flat = centres.reshape(-1)
    candidates = np.flatnonzero(flat)
    fills, cursor = [], 0
    while len(fills) < limit:
        cursor = next_set(flat, candidates, cursor)
        if cursor == len(candidates):
            break
        y, x = divmod(int(candidates[cursor]), shape[1])
        _, _, _, (left, top, width, height) = cv2.floodFill(centres, None, (x, y), 2, 0, 0, 4)
        rect = (slice(top, top + height), slice(left, left + width))
        box = grown(rect, radius, shape)
        piece = cv2.dilate((centres[box] == 2).astype(np.uint8), kernel) > 0
        fills.append((box, piece))
        reach = grown(rect, 2 * radius, shape)
        canvas = np.zeros((reach[0].stop - reach[0].start, reach[1].stop - reach[1].start), np.uint8)
        canvas[
            box[0].start - reach[0].start : box[0].stop - reach[0].start,
            box[1].start - reach[1].start : box[1].stop - reach[1].start,
        ] = piece
        centres[reach][cv2.dilate(canvas, kernel) > 0] = 0
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


def histogram_bins(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """For value ranges ``low[i]..high[i]`` (uint8), the bin of every value 0..255 in
    ``np.histogram(values, 25)``: the same edges (``np.linspace`` over the range, widened by
    0.5 when it is a single value) and the same rule (the last bin holds its upper edge)."""
    single = low == high
    first = np.where(single, low - 0.5, low.astype(np.float64))
    last = np.where(single, high + 0.5, high.astype(np.float64))
    edges = np.linspace(first, last, HISTOGRAM_BINS + 1, axis=1)
    # an integer value is at or above an edge exactly when it is at or above the edge's ceiling
    starts = np.clip(np.ceil(edges), 0, 256).astype(np.intp) + 257 * np.arange(len(low))[:, None]
    steps = np.bincount(starts.reshape(-1), minlength=257 * len(low)).reshape(len(low), 257)
    return np.clip(np.cumsum(steps[:, :256], axis=1, dtype=np.int16) - 1, 0, HISTOGRAM_BINS - 1)


def colour_histograms(frame: np.ndarray, labels: np.ndarray, pieces: np.ndarray | None = None) -> np.ndarray:
    """Per label, the 25-bin histogram of each channel over the piece's own value range,
    L1-normalised: row ``label`` of a (max label + 1, 75) array (rows of absent labels are 0).
    With ``pieces`` (a bool per label), only the rows of those pieces are computed.

    These are ``np.histogram(piece_values, 25)``'s counts, all pieces at once. Channels are
    stacked in OpenCV's B, G, R order, as the official code read its frames, so similarities
    sum the same numbers in the same order and near-ties break the same way.
    """
    flat, colours = labels.reshape(-1), frame.reshape(-1, 3)
    rows = int(flat.max()) + 1 if pieces is None else len(pieces)
    if pieces is not None:
        chosen = pieces[flat]
        flat, colours = flat[chosen], colours[chosen]
    order = np.argsort(flat.astype(np.uint16) if flat.max() < 2**16 else flat, kind="stable")  # radix sort when it fits
    ids, starts, areas = np.unique(flat[order], return_index=True, return_counts=True)
    owner = np.repeat(np.arange(len(ids)), areas)
    histograms = np.zeros((rows, 3 * HISTOGRAM_BINS))
    for slot, channel in enumerate((2, 1, 0)):
        values = colours[order, channel]
        ranges = np.minimum.reduceat(values, starts).astype(np.int32) * 256 + np.maximum.reduceat(values, starts)
        found, which = np.unique(ranges, return_inverse=True)
        bins = histogram_bins(found // 256, found % 256)[which[owner], values]
        counts = np.bincount(owner * HISTOGRAM_BINS + bins, minlength=len(ids) * HISTOGRAM_BINS)
        histograms[ids, slot * HISTOGRAM_BINS : (slot + 1) * HISTOGRAM_BINS] = counts.reshape(len(ids), HISTOGRAM_BINS)
    histograms[ids] /= (3 * areas)[:, None]  # the counts' sum: every value falls in its own range
    return histograms


def single_point(labels: np.ndarray, box: tuple[slice, slice], piece: int) -> bool:
    """Whether the (first) outer contour of ``piece`` simplifies to one point (approxPolyDP, 2% of its length)."""
    mask = (labels[grown(box, 2, labels.shape)] == piece).astype(np.uint8)
    contour = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[-2][0]
    return len(cv2.approxPolyDP(contour, 0.02 * cv2.arcLength(contour, True), True)) == 1


def ring_contacts(labels: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every piece flagged in ``candidates`` (a bool per label), the labels on its outer ring
    (the pixels 4-adjacent to it, outside it) and how many ring pixels carry each: three arrays
    (piece, label, pixels) sorted by piece, then label. A ring pixel counts once per piece."""
    padded = np.pad(labels, 1, constant_values=-1)
    flagged = np.append(candidates, False)  # label -1 (outside the image) is never a piece
    around = (padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:])
    codes = []
    for k, neighbour in enumerate(around):
        ring = flagged[neighbour] & (neighbour != labels)
        for earlier in around[:k]:
            ring &= neighbour != earlier  # one contact per pixel and piece
        codes.append(neighbour[ring].astype(np.int64) * len(candidates) + labels[ring])
    pairs, pixels = np.unique(np.concatenate(codes), return_counts=True)
    return pairs // len(candidates), pairs % len(candidates), pixels


def merge_small_pieces(frame: np.ndarray, labels: np.ndarray, passes: int = MERGE_PASSES) -> np.ndarray:
    """Pieces under 500 pixels join a neighbour: the one whose colour histogram overlaps theirs
    most, under the official rules on size, contact and similarity. Pieces are visited in label
    order and each sees the merges made before it in the same pass.

    Within a pass every piece moves as a whole, so the current label map is ``now[before]``:
    a piece's neighbours are the current labels of its ring in the pass's starting map. Colour
    histograms are recomputed only for the pieces that grew.
    """
    result = labels
    histograms = colour_histograms(frame, labels)
    for _ in range(passes):
        before = result
        ids, areas = np.unique(before, return_counts=True)
        small = np.zeros(int(ids[-1]) + 1, bool)
        small[ids[(ids != 0) & (areas < MERGE_BELOW)]] = True
        pieces, ring_labels, ring_pixels = ring_contacts(before, small)
        ring_starts = np.searchsorted(pieces, ids, side="left").tolist() + [len(pieces)]
        ring_labels, ring_pixels = ring_labels.tolist(), ring_pixels.tolist()
        boxes = ndimage.find_objects(before)
        now = np.arange(len(small))
        grew = np.zeros(len(small), bool)

        for slot, (piece, area) in enumerate(zip(ids.tolist(), areas.tolist())):
            if not small[piece]:
                continue
            contacts: dict[int, int] = {}
            for label, pixels in zip(
                ring_labels[ring_starts[slot] : ring_starts[slot + 1]],
                ring_pixels[ring_starts[slot] : ring_starts[slot + 1]],
            ):
                current = int(now[label])
                contacts[current] = contacts.get(current, 0) + pixels
            neighbours = sorted(label for label in contacts if label != 0)

            new_id, best, contact_at_best, score = piece, -1.0, -1, -1.0
            if not neighbours:
                if area < 5:
                    new_id = 0  # a speck inside a line becomes line
            else:
                new_id = neighbours[0]
                scores = np.minimum(histograms[neighbours], histograms[piece]).sum(axis=1).tolist()
                for neighbour, score in zip(neighbours, scores):
                    if score > best:
                        best, contact_at_best, new_id = score, contacts[neighbour], neighbour
            # the official rules; ``score`` is the last neighbour's, as there
            if (
                area == 1
                or (area < 300 and len(neighbours) == 1)
                or (len(neighbours) == 1 and contact_at_best > 2)
                or area < 50
                or (score > 0.2 and area < 150 and contact_at_best > 1)
                or (score > 0.25 and area < 250 and contact_at_best > 8)
                or single_point(before, boxes[piece - 1], piece)
            ):
                now[piece] = new_id
                if new_id not in (0, piece):
                    grew[new_id] = True
        result = now[before].astype(labels.dtype)
        if len(ids) == len(np.unique(now[ids])):
            break
        grown = np.flatnonzero(grew)
        histograms[grown] = colour_histograms(frame, result, grew)[grown]
    return result


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
    found, index, counts = np.unique(labels, return_inverse=True, return_counts=True)
    rank = np.empty(len(found), np.int32)
    rank[np.argsort(counts)] = np.arange(len(found), dtype=np.int32)
    return rank[index].reshape(labels.shape)


def segment(frame: np.ndarray, style: str = "japan") -> np.ndarray:
    """Colour pieces of ``frame`` (H, W, 3 uint8): an int32 label map, 0..K-1 from the smallest piece."""
    free = fillable(frame, style_of(style))
    labels = merge_small_pieces(frame, fill_map(free))
    return squeeze(thin_lines(labels))
