"""Segment-guided matching: segmentation rules against naive references, VGG-19 weight files,
flows on synthetic cartoon frames with known motion, real frame pairs, guide-flow files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from atdkit.benchmark.methods.animeinterp import CheckpointError
from atdkit.benchmark.methods.animeinterp.sgm import VGGFeatures, compute_sgm
from atdkit.benchmark.methods.animeinterp.sgm.lines import fillable, hysteresis, style_of
from atdkit.benchmark.methods.animeinterp.sgm.segmentation import (
    MERGE_BELOW,
    ball,
    fill_map,
    histogram_bins,
    merge_small_pieces,
    segment,
    squeeze,
    thin_lines,
    trapped_ball_fills,
)
from atdkit.pipelines.formats.atd12k import FlowFileError, read_flows, write_flows
from helpers import SHAPES, cartoon, shared


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """A VGG-19 weight file in torchvision's format with random weights (and classifier keys, which are ignored)."""
    torch.manual_seed(0)
    state = VGGFeatures().state_dict()
    state["classifier.0.weight"] = torch.zeros(4, 4)
    path = tmp_path_factory.mktemp("vgg") / "vgg19-random.pth"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def vgg(vgg_file) -> VGGFeatures:
    return VGGFeatures.from_file(vgg_file)


def test_matched_pieces_move_with_the_shapes(vgg):
    frame0, frame1 = cartoon(SHAPES, 0), cartoon(SHAPES, 1)
    flow01, flow10, labels0, labels1 = compute_sgm(frame0, frame1, vgg, style="japan")
    assert flow01.shape == flow10.shape == (2, 192, 256) and flow01.dtype == np.float32
    assert labels0.shape == (192, 256) and labels0.min() == 0
    matched = 0
    for _, (x, y), _, _, (dx, dy) in SHAPES:
        for flow, labels, (cx, cy), truth in (
            (flow01, labels0, (x, y), (dx, dy)),
            (flow10, labels1, (x + dx, y + dy), (-dx, -dy)),
        ):
            piece = labels == labels[cy, cx]
            assert piece.sum() < 0.12 * piece.size  # one piece per shape, not merged with the background
            moving = np.abs(flow[:, piece]).sum(axis=0) > 0
            if moving.any():
                matched += 1
                error = np.abs(flow[:, piece][:, moving] - np.array(truth, np.float32)[:, None]).max()
                assert error <= 1.0, f"shape at {(cx, cy)}: guide flow off by {error:.2f} px"
    assert matched >= 7  # the four moving shapes, both ways: 8 pieces (one may go unmatched)
    background = labels0 == labels0[5, 5]
    assert np.all(flow01[:, background] == 0)  # 12% of the image or more: never given a flow


def test_line_styles_and_bad_input(vgg):
    frame0, frame1 = cartoon(SHAPES, 0), cartoon(SHAPES, 1)
    western = segment(frame0, "western")
    assert 4 <= western.max() + 1 <= 30
    with pytest.raises(ValueError, match="unknown line style 'anime'"):
        compute_sgm(frame0, frame1, vgg, style="anime")
    with pytest.raises(ValueError, match="frames differ in size"):
        compute_sgm(frame0, frame1[:100], vgg)
    with pytest.raises(ValueError, match="frame0 must be an RGB uint8 array"):
        compute_sgm(frame0.astype(np.float32), frame1, vgg)


def test_real_pair_gives_a_plausible_flow(vgg):
    folder = shared("pairs", "anime_keyframes_640x540")
    frame0, frame1 = (
        np.ascontiguousarray(cv2.imread(str(folder / name))[:, :, ::-1])
        for name in ("sakura_panel_033.png", "sakura_panel_039.png")
    )
    flow01, flow10, labels0, labels1 = compute_sgm(frame0, frame1, vgg, style="japan")
    assert labels0.max() + 1 > 30 and labels1.max() + 1 > 30
    moved = np.abs(flow01).sum(axis=0) > 0
    assert 0.05 < moved.mean() < 0.9
    assert np.isfinite(flow01).all() and np.abs(flow01).max() < 300
    # where SGM gave a flow, frame1 sampled along it matches frame0 better than without moving
    height, width = labels0.shape
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    warped = cv2.remap(
        frame1, grid_x + flow01[0], grid_y + flow01[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    error = lambda image: np.abs(image.astype(np.float32) - frame0.astype(np.float32)).sum(axis=2)[moved].mean()  # noqa: E731
    assert error(warped) < 0.7 * error(frame1)


def test_vgg_weight_files_are_checked(tmp_path, vgg_file):
    state = torch.load(vgg_file, weights_only=True)
    vgg16_like = {key.replace("features.34.", "features.33."): value for key, value in state.items()}
    path = tmp_path / "vgg16.pth"
    torch.save(vgg16_like, path)
    with pytest.raises(
        CheckpointError,
        match=r"vgg16.pth: not a torchvision VGG-19 weight file: "
        r"2 missing keys \(features.34.bias, features.34.weight\); "
        r"2 unexpected keys \(features.33.bias, features.33.weight\)",
    ):
        VGGFeatures.from_file(path)
    with pytest.raises(CheckpointError, match="absent.pth: no such file"):
        VGGFeatures.from_file(tmp_path / "absent.pth")
    with pytest.raises(ValueError, match="unknown VGG layer choice"):
        VGGFeatures("imagenet")
    paper = VGGFeatures.from_file(vgg_file, layers="paper")
    maps = paper(np.zeros((64, 96, 3), np.uint8))
    assert [tuple(m.shape[1:]) for m in maps] == [(64, 64, 96), (128, 32, 48), (256, 16, 24), (512, 8, 12)]


def test_guide_flow_files_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    flow13, flow31 = rng.normal(size=(2, 2, 6, 8)).astype(np.float32)
    write_flows(tmp_path / "triplet", flow13, flow31)
    raw = np.load(tmp_path / "triplet" / "guide_flo13.npy")
    assert raw.dtype == np.float64 and raw.shape == (2, 6, 8)  # the official files' format
    read13, read31 = read_flows(tmp_path / "triplet", size=(6, 8))
    assert np.array_equal(read13, flow13) and np.array_equal(read31, flow31)
    assert not any(path.name.startswith(".tmp") for path in (tmp_path / "triplet").iterdir())
    with pytest.raises(FlowFileError, match=r"guide_flo13.npy: flow is 8x6, the frames are 960x540"):
        read_flows(tmp_path / "triplet", size=(540, 960))
    np.save(tmp_path / "triplet" / "guide_flo31.npy", np.zeros((3, 6, 8)))
    with pytest.raises(FlowFileError, match=r"guide_flo31.npy: expected a float array of shape \(2, H, W\)"):
        read_flows(tmp_path / "triplet")
    with pytest.raises(FlowFileError, match="guide_flo13.npy: no such file"):
        read_flows(tmp_path / "elsewhere")


def naive_trapped_ball(free: np.ndarray, radius: int) -> list[np.ndarray]:
    """The trapped-ball rule restated with whole-image operations, one piece at a time."""
    kernel = ball(radius)
    free = free.copy()
    fills = []
    while True:
        ys, xs = np.nonzero(cv2.erode(free, kernel) == 255)
        if not len(ys):
            return fills
        seed = (int(xs[0]), int(ys[0]))
        component = np.full(free.shape, 255, np.uint8)
        cv2.floodFill(
            component, cv2.copyMakeBorder(255 - free, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0), seed, 0, 0, 0, 4
        )
        core = np.full(free.shape, 255, np.uint8)
        cv2.floodFill(
            core,
            cv2.copyMakeBorder(cv2.dilate(component, kernel), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0),
            seed,
            0,
            0,
            0,
            4,
        )
        piece = cv2.erode(core, kernel) == 0
        fills.append(piece)
        free[piece] = 0


def test_trapped_ball_fill_matches_the_whole_image_rule():
    rng = np.random.default_rng(1)
    free = np.full((70, 90), 255, np.uint8)
    for _ in range(14):  # random strokes with gaps
        a, b = rng.integers(0, (90, 70), size=(2, 2))
        cv2.line(free, tuple(int(v) for v in a), tuple(int(v) for v in b), 0, int(rng.integers(1, 3)))
    for radius in (3, 2, 1):
        expected = naive_trapped_ball(free, radius)
        found = trapped_ball_fills(free, radius)
        assert len(found) == len(expected) > 0
        for (box, mask), piece in zip(found, expected):
            canvas = np.zeros(free.shape, bool)
            canvas[box] = mask
            assert np.array_equal(canvas, piece)


def naive_thinning(labels: np.ndarray) -> np.ndarray:
    """One pixel at a time: line pixels (0) beside a piece take their first labelled neighbour's id,
    in the official order and with its bounds checks (x - 1 > 0, y - 1 > 0)."""
    result = labels.copy()
    height, width = labels.shape
    for _ in range(100):
        if not (result == 0).any():
            break
        previous = result.copy()
        for y in range(height):
            for x in range(width):
                beside_piece = any(
                    0 <= y + dy < height and 0 <= x + dx < width and previous[y + dy, x + dx] != 0
                    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0))
                )
                if previous[y, x] != 0 or not beside_piece:
                    continue
                for dy, dx, ok in (
                    (0, -1, x - 1 > 0),
                    (-1, -1, x - 1 > 0 and y - 1 > 0),
                    (-1, 0, y - 1 > 0),
                    (-1, 1, y - 1 > 0 and x + 1 < width),
                    (0, 1, x + 1 < width),
                    (1, 1, x + 1 < width and y + 1 < height),
                    (1, 0, y + 1 < height),
                    (1, -1, y + 1 < height and x - 1 > 0),
                ):
                    if ok and previous[y + dy, x + dx] != 0:
                        result[y, x] = previous[y + dy, x + dx]
                        break
    return result


def test_thinning_matches_the_per_pixel_rule():
    rng = np.random.default_rng(2)
    labels = rng.integers(1, 5, size=(24, 30)).repeat(2, axis=0).repeat(2, axis=1)
    labels[rng.random(labels.shape) < 0.45] = 0
    labels[:, 1] = 0  # the column the official bounds check never reads from
    assert np.array_equal(thin_lines(labels), naive_thinning(labels))


def naive_merge(frame: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The merge rules restated on the whole image, one piece at a time, each piece reading the
    labels as the pieces before it in the pass left them."""
    result = labels.copy()
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    for _ in range(10):
        before = result.copy()
        ids, areas = np.unique(before, return_counts=True)
        histograms = {}
        for piece in ids:
            values = frame[before == piece]
            counts = np.concatenate([np.histogram(values[:, channel], 25)[0] for channel in (2, 1, 0)])
            histograms[piece] = counts / counts.sum()
        for piece, area in zip(ids, areas):
            if piece == 0 or area >= MERGE_BELOW:
                continue
            mask = (before == piece).astype(np.uint8)
            ring = (cv2.dilate(mask, cross) > 0) & (mask == 0)
            touching, counts = np.unique(result[ring], return_counts=True)
            neighbours, contacts = touching[touching != 0], counts[touching != 0]
            new_id, best, contact_at_best, score = piece, -1.0, -1, -1.0
            if len(neighbours) == 0 and area < 5:
                new_id = 0
            for neighbour, contact in zip(neighbours, contacts):
                score = np.sum(np.minimum(histograms[piece], histograms[neighbour]))
                if score > best:
                    best, contact_at_best, new_id = score, contact, neighbour
            ys, xs = np.nonzero(mask)
            box = mask[max(ys.min() - 2, 0) : ys.max() + 3, max(xs.min() - 2, 0) : xs.max() + 3]
            contour = cv2.findContours(box, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0][0]
            point = len(cv2.approxPolyDP(contour, 0.02 * cv2.arcLength(contour, True), True)) == 1
            if (
                point
                or area == 1
                or (area < 300 and len(neighbours) == 1)
                or (len(neighbours) == 1 and contact_at_best > 2)
                or area < 50
                or (score > 0.2 and area < 150 and contact_at_best > 1)
                or (score > 0.25 and area < 250 and contact_at_best > 8)
            ):
                result[mask > 0] = new_id
        if len(ids) == len(np.unique(result)):
            break
    return result


def scribbled_cartoon() -> np.ndarray:
    """The cartoon with specks and short strokes: small pieces, pieces split in two, islands in lines."""
    rng = np.random.default_rng(3)
    frame = cartoon(SHAPES, 0.0)
    for _ in range(120):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        a = rng.integers(0, (256, 192))
        b = a + rng.integers(-12, 13, 2)
        cv2.line(frame, tuple(int(v) for v in a), tuple(int(v) for v in b), colour, int(rng.integers(1, 3)))
    return frame


def real_keyframe_crop() -> np.ndarray:
    image = cv2.imread(str(shared("pairs", "anime_keyframes_640x540", "konobi12_panel_009.png")))
    return np.ascontiguousarray(cv2.resize(image, (960, 540))[150:390, 300:620, ::-1])


@pytest.mark.parametrize("make_frame", [scribbled_cartoon, real_keyframe_crop])
def test_merge_matches_the_one_piece_at_a_time_rule(make_frame):
    frame = make_frame()
    labels = fill_map(fillable(frame, style_of("japan")))
    merged = merge_small_pieces(frame, labels)
    assert len(np.unique(merged)) < len(np.unique(labels)) - 20  # the rules did merge
    assert np.array_equal(merged, naive_merge(frame, labels))


def test_hysteresis_is_scikit_images():
    from skimage.filters import apply_hysteresis_threshold

    rng = np.random.default_rng(4)
    smooth = cv2.GaussianBlur(rng.random((90, 120, 3)).astype(np.float32), (0, 0), 2) * 255
    laplacian = cv2.Laplacian(cv2.bilateralFilter(scribbled_cartoon(), 10, 10, 10), ddepth=cv2.CV_32F, ksize=5)
    low, high = np.percentile(smooth, [55, 99])
    for stack, weak, strong in (
        (smooth, low, high),
        (smooth, high - 1, high),
        (laplacian * (255 / laplacian.max()), 2, 20),
    ):
        expected = apply_hysteresis_threshold(stack, weak, strong)
        assert 0 < expected.sum() < (stack > weak).sum()  # some weak responses are dropped
        assert np.array_equal(hysteresis(stack, weak, strong), expected)


def test_squeeze_orders_pieces_by_size():
    labels = np.array([[7, 7, 7, 2], [7, 9, 9, 2], [7, 9, 9, 2]])
    assert squeeze(labels).tolist() == [[2, 2, 2, 0], [2, 1, 1, 0], [2, 1, 1, 0]]


def test_histogram_bins_are_numpys():
    lows, highs = np.meshgrid(np.arange(0, 256, 5), np.arange(0, 256, 3))
    keep = lows <= highs
    lows, highs = lows[keep], highs[keep]
    tables = histogram_bins(lows, highs)
    for low, high, table in zip(lows, highs, tables):
        values = np.arange(low, high + 1, dtype=np.uint8)
        assert np.array_equal(np.bincount(table[values], minlength=25), np.histogram(values, 25)[0]), (low, high)
