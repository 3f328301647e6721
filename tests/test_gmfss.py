"""GMFSS (GMFSS_Fortuna's base model): the release folder's four layouts and their strict loading, refusal
of wrong folders and files in one line, GMFlow's rewritten attention, matching, propagation and
upsampling against naive per-pixel references, the splatting as the official CuPy kernel normalises it,
and forward passes on real frames at several t through the method's fitting, on CPU.

The release is synthesised from GMFSS_Fortuna's model code (``model/gmflow/*``, ``model/MetricNet.py``,
``model/FeatureNet.py``, ``model/FusionNet_b.py``; written out below): four plain state dicts, saved by
its training's ``save_model`` as flownet.pkl, metric.pkl, feat.pkl and fusionnet.pkl, seeded random values.
"""

from __future__ import annotations

import json
import math

import cv2
import pyarrow.parquet as pq
import pytest
import torch

from atdkit.benchmark import methods
from atdkit.benchmark.harness import BenchError, run_bench
from atdkit.benchmark.methods import MethodError
from atdkit.benchmark.methods.gmfss import GMFSS, METHOD, UNION_METHOD, GMFSSUnion
from atdkit.benchmark.methods.gmfss.gmflow import GMFlow
from atdkit.benchmark.methods.gmfss.gmflow.matching import FlowPropagation, global_matching, local_matching
from atdkit.benchmark.methods.gmfss.gmflow.transformer import add_position, shift_mask, window_attention
from atdkit.benchmark.methods.gmfss.method import fitted_size
from atdkit.benchmark.methods.gmfss.warp import softmax_splat
from helpers import atdkit, rife_blocks_layout, shared, tiny_atd_layout

ROWS = (64, 128, 192)


def gmflow_layout() -> list[tuple[str, tuple[int, ...]]]:
    """flownet.pkl: the CNN backbone (three stages of two residual blocks, 1x1 shortcut projections where the
    shape changes, a 1x1 projection and the shared trident 3x3), six transformer blocks of 128 channels,
    the propagation's two projections, the convex upsampler (4x4 x 9 weights)."""
    layout, previous = [("backbone.conv1.weight", (64, 3, 7, 7))], 64
    for stage, (width, stride) in enumerate(((64, 1), (96, 2), (128, 1)), 1):
        for block in (0, 1):
            inputs = previous if block == 0 else width
            name = f"backbone.layer{stage}.{block}"
            layout += [(f"{name}.conv1.weight", (width, inputs, 3, 3)), (f"{name}.conv2.weight", (width, width, 3, 3))]
            if block == 0 and (stride != 1 or inputs != width):
                layout += [
                    (f"{name}.downsample.0.weight", (width, inputs, 1, 1)),
                    (f"{name}.downsample.0.bias", (width,)),
                ]
        previous = width
    layout += [
        ("backbone.conv2.weight", (128, 128, 1, 1)),
        ("backbone.conv2.bias", (128,)),
        ("backbone.trident_conv.weight", (128, 128, 3, 3)),
    ]
    for block in range(6):
        for layer in ("self_attn", "cross_attn_ffn"):
            name = f"transformer.layers.{block}.{layer}"
            layout += [(f"{name}.{proj}.weight", (128, 128)) for proj in ("q_proj", "k_proj", "v_proj", "merge")]
            layout += [(f"{name}.norm1.weight", (128,)), (f"{name}.norm1.bias", (128,))]
            if layer == "cross_attn_ffn":
                layout += [(f"{name}.mlp.0.weight", (1024, 256)), (f"{name}.mlp.2.weight", (128, 1024))]
                layout += [(f"{name}.norm2.weight", (128,)), (f"{name}.norm2.bias", (128,))]
    for proj in ("q_proj", "k_proj"):
        layout += [(f"feature_flow_attn.{proj}.weight", (128, 128)), (f"feature_flow_attn.{proj}.bias", (128,))]
    layout += [
        ("upsampler.0.weight", (256, 130, 3, 3)),
        ("upsampler.0.bias", (256,)),
        ("upsampler.2.weight", (144, 256, 1, 1)),
        ("upsampler.2.bias", (144,)),
    ]
    return layout


def prelu_conv_pairs(name: str, inputs: int, outputs: int, transposed: bool = False) -> list:
    """Two PReLU + convolution pairs (the first one a stride-2 transposed 4x4 when ``transposed``)."""
    first = (inputs, outputs, 4, 4) if transposed else (outputs, inputs, 3, 3)
    return [
        (f"{name}.0.weight", (1,)),
        (f"{name}.1.weight", first),
        (f"{name}.1.bias", (outputs,)),
        (f"{name}.2.weight", (1,)),
        (f"{name}.3.weight", (outputs, outputs, 3, 3)),
        (f"{name}.3.bias", (outputs,)),
    ]


def metric_layout() -> list:
    layout = [("metric_in.weight", (64, 14, 3, 3)), ("metric_in.bias", (64,))]
    for name, outputs in (("metric_net1", 64), ("metric_net2", 64), ("metric_net3", 64), ("metric_out", 2)):
        layout += [
            (f"{name}.0.weight", (1,)),
            (f"{name}.1.weight", (outputs, 64, 3, 3)),
            (f"{name}.1.bias", (outputs,)),
        ]
    return layout


def feature_layout() -> list:
    return [
        entry
        for block, (inputs, outputs) in enumerate(((3, 64), (64, 128), (128, 192)), 1)
        for entry in prelu_conv_pairs(f"block{block}", inputs, outputs)
    ]


def fusion_layout(head: str = "residual_model_head", frame_channels: int = 12) -> list:
    """FusionNet_b's GridNet (the union's FusionNet_u: head ``residual_model_head0`` of 9 channels)."""
    layout = prelu_conv_pairs(head, frame_channels, 64)
    for row, inputs in enumerate((128, 256, 384), 1):
        layout += prelu_conv_pairs(f"residual_model_head{row}", inputs, ROWS[row - 1])
    for row, channels in enumerate(ROWS):
        for column in (1, 4, 5):
            layout += prelu_conv_pairs(f"residual_model_{row}{column}", channels, channels)
    for row in (1, 2):
        for column in (0, 1):
            layout += prelu_conv_pairs(f"downsample_model_{row}{column}", ROWS[row - 1], ROWS[row])
    for row in (0, 1):
        for column in (4, 5):
            layout += prelu_conv_pairs(f"upsample_model_{row}{column}", ROWS[row + 1], ROWS[row], transposed=True)
    tail = "residual_model_tail"
    return layout + [
        (f"{tail}.conv_before_upsample.0.weight", (64, 64, 3, 3)),
        (f"{tail}.conv_before_upsample.0.bias", (64,)),
        (f"{tail}.conv_before_upsample.1.weight", (1,)),
        (f"{tail}.upsample.0.weight", (256, 64, 3, 3)),
        (f"{tail}.upsample.0.bias", (256,)),
        (f"{tail}.conv_last.weight", (3, 64, 3, 3)),
        (f"{tail}.conv_last.bias", (3,)),
    ]


RELEASE = {
    "flownet.pkl": ("flownet", gmflow_layout),
    "metric.pkl": ("metricnet", metric_layout),
    "feat.pkl": ("feat_ext", feature_layout),
    "fusionnet.pkl": ("fusionnet", fusion_layout),
}


def random_state(layout: list, seed: int) -> dict[str, torch.Tensor]:
    """Seeded values of a trained network's scale: weights ~ 1/sqrt(fan-in), PReLU slopes near 0.25,
    layer norms near 1, small biases."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in layout:
        noise = torch.randn(shape, generator=generator)
        if shape == (1,):
            state[name] = 0.25 + 0.05 * noise
        elif "norm" in name:
            state[name] = (1.0 if name.endswith("weight") else 0.0) + 0.1 * noise
        elif len(shape) == 1:
            state[name] = 0.01 * noise
        else:
            state[name] = noise / math.sqrt(math.prod(shape[1:]))
    return state


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gmfss") / "train_log"
    folder.mkdir()
    for seed, (name, (_, layout)) in enumerate(RELEASE.items()):
        torch.save(random_state(layout(), seed), folder / name)
    return folder


@pytest.fixture(scope="module")
def network(release) -> GMFSS:
    return GMFSS.from_folder(release)


def test_the_parts_have_the_released_layouts():
    model = GMFSS()
    sizes = {}
    for name, (attribute, layout) in RELEASE.items():
        state = getattr(model, attribute).state_dict()
        assert sorted((key, tuple(t.shape)) for key, t in state.items()) == sorted(layout()), name
        sizes[name] = sum(t.numel() for t in state.values())
    assert sizes == {"flownet.pkl": 4_716_720, "metric.pkl": 120_070, "feat.pkl": 813_510, "fusionnet.pkl": 7_845_806}


def check_loaded(network, release: dict, first_seed: int = 0) -> None:
    """``network`` is in eval mode and holds every file's synthesised values."""
    assert not network.training
    for seed, (name, (attribute, layout)) in enumerate(release.items(), first_seed):
        loaded = getattr(network, attribute).state_dict()
        assert all(torch.equal(loaded[key], value) for key, value in random_state(layout(), seed).items()), name


def test_the_release_folder_loads_strictly(network):
    check_loaded(network, RELEASE)


def refusal(folder, method=METHOD) -> str:
    with pytest.raises(MethodError) as error:
        method.load({method.name: folder}, torch.device("cpu"))
    message = str(error.value)
    assert "\n" not in message
    return message


def test_wrong_folders_and_files_are_refused_in_one_line(tmp_path, release):
    union = tmp_path / "union"
    union.mkdir()
    for name in RELEASE:
        (union / name).write_bytes((release / name).read_bytes())
    torch.save(random_state(fusion_layout("residual_model_head0", 9), 9), union / "fusionnet.pkl")
    torch.save({"block0.conv0.0.0.weight": torch.zeros(96, 7, 3, 3)}, union / "rife.pkl")
    message = refusal(union)
    assert message.startswith(f"{union / 'fusionnet.pkl'}: not GMFSS base's fusionnet.pkl (FusionNet_b.GridNet): ")
    assert "6 missing keys (residual_model_head.0.weight, residual_model_head.1.bias," in message
    assert "6 unexpected keys (residual_model_head0.0.weight," in message
    assert message.endswith("the folder holds rife.pkl: the union release?")

    (union / "fusionnet.pkl").unlink()
    (union / "metric.pkl").unlink()
    assert refusal(union) == (
        f"{union}: lacks metric.pkl, fusionnet.pkl (GMFSS_Fortuna's base release: flownet.pkl, metric.pkl, "
        "feat.pkl, fusionnet.pkl)"
    )
    assert refusal(release / "flownet.pkl").startswith(f"{release / 'flownet.pkl'}: not a folder: GMFSS's weights")

    other = tmp_path / "other"
    other.mkdir()
    for name in RELEASE:
        (other / name).write_bytes((release / name).read_bytes())
    metric = random_state(metric_layout(), 1)
    metric["metric_in.weight"] = torch.zeros(64, 12, 3, 3)  # a metric network without the occlusion masks
    torch.save(metric, other / "metric.pkl")
    assert refusal(other) == (
        f"{other / 'metric.pkl'}: not GMFSS's metric.pkl (MetricNet): 1 tensors of the wrong shape "
        "(metric_in.weight (64, 12, 3, 3) instead of (64, 14, 3, 3))"
    )
    torch.save({"model": metric}, other / "metric.pkl")
    assert "metric.pkl: not a state dict: 1 entries are not named tensors" in refusal(other)


# --- GMFlow's pieces against naive per-pixel definitions ------------------------------------------------


def naive_window_attention(q, k, v, splits: int, shifted: bool) -> torch.Tensor:
    """Swin's (shifted) window attention pixel by pixel, on (H, W, C) maps: a pixel attends to the pixels of
    its window after the cyclic shift, pairs from different regions of the shifted image scored -100 lower."""
    height, width, channels = q.shape
    window = (height // splits, width // splits)
    shift = (window[0] // 2, window[1] // 2) if shifted else (0, 0)

    def placed(i, j):  # position after the roll that brings (shift) to the origin
        return (i - shift[0]) % height, (j - shift[1]) % width

    def band(position, size, length):  # a window one pixel across: not shifted, one band
        if length // 2 == 0:
            return 0
        return 0 if position < size - length else 1 if position < size - length // 2 else 2

    out = torch.zeros_like(q)
    pixels = [(i, j) for i in range(height) for j in range(width)]
    for i, j in pixels:
        y, x = placed(i, j)
        mine = (y // window[0], x // window[1])
        region = (band(y, height, window[0]), band(x, width, window[1]))
        scores, values = [], []
        for a, b in pixels:
            ya, xa = placed(a, b)
            if (ya // window[0], xa // window[1]) != mine:
                continue
            other = (band(ya, height, window[0]), band(xa, width, window[1]))
            penalty = -100.0 if shifted and other != region else 0.0
            scores.append(float(q[i, j] @ k[a, b]) / math.sqrt(channels) + penalty)
            values.append(v[a, b])
        weights = torch.softmax(torch.tensor(scores, dtype=torch.float64), 0)
        out[i, j] = sum(w * value for w, value in zip(weights, values))
    return out


@pytest.mark.parametrize("shifted", [False, True])
@pytest.mark.parametrize("size", [(8, 12), (4, 12)])  # 4 rows in 4 windows: windows one row high, not shifted
def test_window_attention_matches_swin_pixel_by_pixel(shifted, size):
    generator = torch.Generator().manual_seed(3)
    splits = 2 if size[0] == 8 else 4
    q, k, v = (torch.randn(1, *size, 4, generator=generator, dtype=torch.float64) for _ in range(3))
    mask = shift_mask(*size, splits, q.device).double() if shifted else None
    found = window_attention(q, k, v, splits, mask)[0]
    torch.testing.assert_close(found, naive_window_attention(q[0], k[0], v[0], splits, shifted))


def test_position_encoding_repeats_per_window_as_detr_defines_it():
    feature = torch.zeros(1, 8, 4, 6)
    encoded = add_position(feature, 2)[0]  # windows of 2 x 3
    torch.testing.assert_close(encoded[:, :2, :3], encoded[:, 2:, 3:])
    y, x = 2 / (2 + 1e-6) * 2 * math.pi, 1 / (3 + 1e-6) * 2 * math.pi  # pixel (1, 0) of its window
    expected = [math.sin(y), math.cos(y), math.sin(y / 100), math.cos(y / 100)]
    expected += [math.sin(x), math.cos(x), math.sin(x / 100), math.cos(x / 100)]
    torch.testing.assert_close(encoded[:, 1, 0], torch.tensor(expected))


def naive_matching(feature0, feature1, radius: int | None) -> torch.Tensor:
    """Expected position minus the pixel's own, softmax over all of frame 1 or the (2r+1)^2 window inside it."""
    _, channels, height, width = feature0.shape
    flow = torch.zeros(1, 2, height, width, dtype=torch.float64)
    for i in range(height):
        for j in range(width):
            candidates = [
                (a, b)
                for a in range(height)
                for b in range(width)
                if radius is None or (abs(a - i) <= radius and abs(b - j) <= radius)
            ]
            scores = torch.tensor([float(feature0[0, :, i, j] @ feature1[0, :, a, b]) for a, b in candidates])
            weights = torch.softmax(scores.double() / math.sqrt(channels), 0)
            flow[0, 0, i, j] = sum(w * (b - j) for w, (_, b) in zip(weights, candidates))
            flow[0, 1, i, j] = sum(w * (a - i) for w, (a, _) in zip(weights, candidates))
    return flow


def test_global_and_local_matching_match_their_definitions():
    generator = torch.Generator().manual_seed(4)
    feature0, feature1 = (torch.randn(1, 8, 6, 7, generator=generator) for _ in range(2))
    for found, radius in ((global_matching(feature0, feature1), None), (local_matching(feature0, feature1, 2), 2)):
        torch.testing.assert_close(found.double(), naive_matching(feature0, feature1, radius), atol=1e-5, rtol=1e-5)


def test_flow_propagation_matches_its_definition():
    """Global: the key projects the projected query (as the released weights were trained); local 3x3:
    positions outside the image take part as zero keys carrying zero flow."""
    torch.manual_seed(5)
    propagation = FlowPropagation(8).double()
    feature, flow = torch.randn(1, 8, 5, 6, dtype=torch.float64), torch.randn(1, 2, 5, 6, dtype=torch.float64)
    with torch.no_grad():
        pixels = feature[0].flatten(1).T  # (HW, C)
        query = propagation.q_proj(pixels)
        weights = torch.softmax(query @ propagation.k_proj(query).T / math.sqrt(8), dim=1)
        expected = (weights @ flow[0].flatten(1).T).T.reshape(1, 2, 5, 6)
        torch.testing.assert_close(propagation(feature, flow, None), expected)
        keys = propagation.k_proj(pixels).T.reshape(8, 5, 6)
        local = torch.zeros_like(flow)
        for i in range(5):
            for j in range(6):
                scores, flows = [], []
                for a in (i - 1, i, i + 1):
                    for b in (j - 1, j, j + 1):
                        inside = 0 <= a < 5 and 0 <= b < 6
                        scores.append(float(query[i * 6 + j] @ keys[:, a, b]) / math.sqrt(8) if inside else 0.0)
                        flows.append(flow[0, :, a, b] if inside else torch.zeros(2, dtype=torch.float64))
                local[0, :, i, j] = sum(w * f for w, f in zip(torch.softmax(torch.tensor(scores), 0), flows))
        torch.testing.assert_close(propagation(feature, flow, 1), local)


def test_convex_upsampling_matches_its_definition():
    """Fine pixel (4y + r, 4x + s): 4 x the 3x3 coarse flows around (y, x) (zeros outside), weighted by the
    softmax over the 9 mask channels k * 16 + r * 4 + s."""
    torch.manual_seed(6)
    gmflow = GMFlow(channels=8).double()
    flow, feature = torch.randn(1, 2, 3, 4, dtype=torch.float64), torch.randn(1, 8, 3, 4, dtype=torch.float64)
    with torch.no_grad():
        mask = gmflow.upsampler(torch.cat([flow, feature], 1))[0]
        found = gmflow.upsample(flow, feature)
    expected = torch.zeros(1, 2, 12, 16, dtype=torch.float64)
    for y in range(3):
        for x in range(4):
            neighbours = [(y + dy, x + dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
            for r in range(4):
                for s in range(4):
                    weights = torch.softmax(mask[[k * 16 + r * 4 + s for k in range(9)], y, x], 0)
                    for w, (a, b) in zip(weights, neighbours):
                        if 0 <= a < 3 and 0 <= b < 4:
                            expected[0, :, 4 * y + r, 4 * x + s] += w * 4 * flow[0, :, a, b]
    torch.testing.assert_close(found, expected)


def test_softmax_splatting_normalises_as_the_official_kernel():
    """sum exp(Z) x (bilinear shares) / (sum exp(Z) shares + 1e-7), pixel by pixel, holes 0."""
    generator = torch.Generator().manual_seed(7)
    values = torch.rand(1, 2, 4, 5, generator=generator, dtype=torch.float64)
    flow = torch.randn(1, 2, 4, 5, generator=generator, dtype=torch.float64) * 1.5
    metric = torch.randn(1, 1, 4, 5, generator=generator, dtype=torch.float64) * 5
    total, weight = torch.zeros(2, 4, 5, dtype=torch.float64), torch.zeros(4, 5, dtype=torch.float64)
    for i in range(4):
        for j in range(5):
            x, y = j + float(flow[0, 0, i, j]), i + float(flow[0, 1, i, j])
            for a in (math.floor(y), math.floor(y) + 1):
                for b in (math.floor(x), math.floor(x) + 1):
                    if 0 <= a < 4 and 0 <= b < 5:
                        share = (1 - abs(x - b)) * (1 - abs(y - a)) * math.exp(float(metric[0, 0, i, j]))
                        total[:, a, b] += share * values[0, :, i, j]
                        weight[a, b] += share
    torch.testing.assert_close(softmax_splat(values, flow, metric)[0], total / (weight + 1e-7))


# --- the whole network on real frames -----------------------------------------------------------------


@pytest.fixture(scope="module")
def real_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """frame1 and frame3 of the real 1080p triplet: a 360x540 crop at a sixth, 60x90 (fitted to 64x128, the
    smallest size: GMFlow's finest attention windows are then one row high)."""
    folder = shared("triplets", "ccvfi_dragon_1080p")
    frames = []
    for name in ("frame1.png", "frame3.png"):
        image = cv2.cvtColor(cv2.imread(str(folder / name)), cv2.COLOR_BGR2RGB)[300:660, 600:1140]
        image = cv2.resize(image, (90, 60), interpolation=cv2.INTER_AREA)
        frames.append(torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255)
    return frames[0], frames[1]


def test_frames_are_resized_up_to_multiples_of_64_as_the_released_script_does():
    assert fitted_size(540, 960) == (576, 960) and fitted_size(120, 180) == (128, 192)
    assert fitted_size(64, 128) == (64, 128)
    with pytest.raises(ValueError, match="divisible by 64, got 180x120"):
        GMFSS().motion(torch.zeros(1, 3, 120, 180), torch.zeros(1, 3, 120, 180))


def test_forward_on_real_frames_at_any_timestep(release, real_pair):
    interpolate = METHOD.load({"gmfss": release}, torch.device("cpu"))  # the release folder, as atdkit bench loads it
    assert METHOD.any_timestep and METHOD.fit is None  # the method resizes as the released script does
    frame1, frame3 = real_pair
    times = torch.tensor([0.5, 0.2])
    with torch.inference_mode():
        both = interpolate(torch.cat([frame1, frame1]), torch.cat([frame3, frame3]), None, t=times)
        alone = interpolate(frame1, frame3, None, t=0.2)
    assert both.shape == (2, 3, 60, 90) and torch.isfinite(both).all()
    assert both.min() >= 0 and both.max() <= 1 and not torch.equal(both[0], both[1])
    torch.testing.assert_close(both[1:], alone, atol=1e-4, rtol=0)  # batch of 2 or 1: float rounding only


def fusion_frames(network, real_pair, times) -> tuple:
    """The pair's motion (at 128x64) and the frame channels the fusion network was given at each of ``times``."""
    frame0, frame1 = (torch.nn.functional.interpolate(f, size=(64, 128), mode="bilinear") for f in real_pair)
    seen = []
    hook = network.fusionnet.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    try:
        with torch.inference_mode():
            motion = network.motion(frame0, frame1)
            for t in times:
                network.synthesise(motion, t)
    finally:
        hook.remove()
    return motion, seen


def test_each_side_is_splatted_by_its_share_of_the_flow(network, real_pair):
    """At t = 0 frame 0 is splatted along no flow (itself), at t = 1 frame 1 is; in between each moves."""
    motion, seen = fusion_frames(network, real_pair, (0.0, 1.0, 0.5))
    half0, half1 = motion.frames
    at0, at1, middle = seen  # the fusion's frame channels: frame 0, frame 0 splatted, frame 1 splatted, frame 1
    torch.testing.assert_close(at0[:, 3:6], half0)
    torch.testing.assert_close(at1[:, 6:9], half1)
    assert not torch.allclose(at1[:, 3:6], half0, atol=1e-3) and not torch.allclose(middle[:, 6:9], half1, atol=1e-3)
    assert motion.flows[0].shape == (1, 2, 32, 64) and motion.metrics[0].abs().max() <= 10


def test_listed_with_where_to_get_its_release(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "1000")
    monkeypatch.setenv("ATDKIT_WEIGHTS", str(tmp_path))
    status, err = atdkit(capsys, "bench", "--list")
    row = next(line for line in err.splitlines() if " gmfss " in line)
    assert status == 0 and "gmfss: missing (get it from the folder train_log/ of the 'GMFSS model' zip" in row


@pytest.mark.slow
def test_bench_scores_it_from_the_release_folder(tmp_path, release):
    tiny_atd_layout(tmp_path / "atd", 2)
    run_bench(tmp_path / "atd", ["gmfss"], tmp_path / "r", size=(320, 180), device="cpu", weights={"gmfss": release})
    rows = pq.read_table(tmp_path / "r" / "per_triplet.parquet").to_pandas()
    assert list(rows["status"]) == ["ok", "ok"] and all(math.isfinite(psnr) for psnr in rows["psnr"])
    recorded = json.loads((tmp_path / "r" / "run.json").read_text())["methods"]["gmfss"]["weights"]["gmfss"]
    assert recorded["files"] == {name: methods.sha256(release / name) for name in RELEASE}
    with pytest.raises((BenchError, MethodError), match="given with --weights gmfss=.... is not a folder"):
        run_bench(tmp_path / "atd", ["gmfss"], tmp_path / "r2", device="cpu", weights={"gmfss": release / "metric.pkl"})


# --- the union model (GMFSS_Fortuna's --union): the base's parts, FusionNet_u and RIFE 4.6 -------------


def rife_layout() -> list:
    """rife.pkl: GMFSS_Fortuna's ``model/IFNet_HDv3.py``, RIFE 4.6's layout."""
    return rife_blocks_layout([7, 12, 12, 12], [192, 128, 96, 64], 6)


UNION_RELEASE = {
    **RELEASE,
    "fusionnet.pkl": ("fusionnet", lambda: fusion_layout("residual_model_head0", 9)),
    "rife.pkl": ("ifnet", rife_layout),
}


@pytest.fixture(scope="module")
def union_release(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gmfss_union") / "train_log"
    folder.mkdir()
    for seed, (name, (_, layout)) in enumerate(UNION_RELEASE.items(), 10):
        torch.save(random_state(layout(), seed), folder / name)
    return folder


def test_the_union_parts_have_the_released_layouts():
    model = GMFSSUnion()
    for name, (attribute, layout) in UNION_RELEASE.items():
        state = getattr(model, attribute).state_dict()
        assert sorted((key, tuple(t.shape)) for key, t in state.items()) == sorted(layout()), name
    assert len(model.ifnet.state_dict()) == 120 and "residual_model_head" not in dict(model.fusionnet.named_children())


def test_the_union_release_folder_loads_strictly(union_release):
    check_loaded(GMFSSUnion.from_folder(union_release), UNION_RELEASE, 10)


def test_a_base_folder_given_to_union_is_refused_in_one_line(tmp_path, release, union_release):
    assert refusal(release, UNION_METHOD) == (
        f"{release}: lacks rife.pkl (GMFSS_Fortuna's union release: flownet.pkl, metric.pkl, feat.pkl, fusionnet.pkl, "
        "rife.pkl); without rife.pkl it looks like the base release (--weights gmfss=FOLDER)"
    )
    mixed = tmp_path / "mixed"  # the base release with a rife.pkl beside it: its fusionnet.pkl is the base's
    mixed.mkdir()
    for name in UNION_RELEASE:
        (mixed / name).write_bytes(((release if name in RELEASE else union_release) / name).read_bytes())
    message = refusal(mixed, UNION_METHOD)
    assert message.startswith(f"{mixed / 'fusionnet.pkl'}: not GMFSS union's fusionnet.pkl (FusionNet_u.GridNet): ")
    assert "6 missing keys (residual_model_head0.0.weight," in message
    assert "6 unexpected keys (residual_model_head.0.weight," in message
    assert refusal(union_release).endswith("the folder holds rife.pkl: the union release?")  # and the reverse


def test_union_forward_on_real_frames_at_two_timesteps(union_release, real_pair):
    interpolate = UNION_METHOD.load({"gmfss-union": union_release}, torch.device("cpu"))
    assert UNION_METHOD.any_timestep and UNION_METHOD.fit is None
    frame1, frame3 = real_pair
    with torch.inference_mode():
        both = interpolate(torch.cat([frame1, frame1]), torch.cat([frame3, frame3]), None, t=torch.tensor([0.5, 0.2]))
        alone = interpolate(frame1, frame3, None, t=0.2)
    assert both.shape == (2, 3, 60, 90) and torch.isfinite(both).all()
    assert both.min() >= 0 and both.max() <= 1 and not torch.equal(both[0], both[1])
    torch.testing.assert_close(both[1:], alone, atol=1e-4, rtol=0)


def test_union_fusion_sees_rifes_frame_between_the_splatted_ones(union_release, real_pair):
    network = GMFSSUnion.from_folder(union_release)
    motion, seen = fusion_frames(network, real_pair, (0.0, 0.3))
    with torch.inference_mode():
        rife = network.ifnet(*motion.frames, 0.3)
    at0, at3 = seen  # frame 0 splatted, RIFE's frame, frame 1 splatted: 9 channels
    assert at0.shape == (1, 9, 32, 64)
    torch.testing.assert_close(at0[:, :3], motion.frames[0])
    torch.testing.assert_close(at3[:, 3:6], rife)
    assert not torch.allclose(at0[:, 3:6], at3[:, 3:6], atol=1e-3)


def test_union_listed_with_where_to_get_its_release(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "1000")
    monkeypatch.setenv("ATDKIT_WEIGHTS", str(tmp_path))
    status, err = atdkit(capsys, "bench", "--list")
    row = next(line for line in err.splitlines() if " gmfss-union " in line)
    assert status == 0 and "gmfss-union: missing (get it from the folder train_log/ of the 'union model' zip" in row
