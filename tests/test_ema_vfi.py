"""EMA-VFI (ours_t, ours_small_t): the released files' layout, strict loading and refusals, what the flow
heads' outputs mean (per-stage scaling, warps, the mask blend), the timestep per triplet, the benchmark
methods (BGR, centred padding, TTA for ours_t only) on a real frame pair at t=0.5 and t=0.25, and
``atdkit bench`` scoring both.

Checkpoints are synthesised in the released format, written out below from the official
``config.init_model_config`` and module code (not from atdkit's model): ``net.state_dict()`` of the
DistributedDataParallel-wrapped network (``module.`` keys), with the ``attn_mask``/``HW`` buffers its
shifted blocks register during a forward (shapes of a 448x256 one), seeded random values.
"""

from __future__ import annotations

import json
import math

import cv2
import pyarrow.parquet as pq
import pytest
import torch

from atdkit.benchmark import methods
from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.harness import run_bench
from atdkit.benchmark.methods import MethodError
from atdkit.benchmark.methods.ema_vfi import EMAVFI, METHODS, OURS_SMALL_T, OURS_T
from atdkit.benchmark.methods.ema_vfi.warp import warp
from helpers import shared, tiny_atd_layout

torch.set_num_threads(1)
CONFIGS = {"ours_t": (32, (2, 2, 2, 4, 4)), "ours_small_t": (16, (2, 2, 2, 2, 2))}  # F, depths
PAPER_PARAMETERS = {"ours_t": 65_662_359, "ours_small_t": 14_489_815}  # the paper's 65.66M and 14.49M
PAD = 5  # InputPadder's rows above and below a 96x54 frame
BUFFER_WINDOWS = {4: 40, 5: 12}  # windows of a 448x256 forward: 56x32 padded to 56x35 at 1/8, 28x16 to 28x21 at 1/16


def released_layout(name: str) -> list[tuple[str, tuple[int, ...]]]:
    """The keys and shapes of ``ckpt/{name}.pkl`` (without ``module.``), its size-dependent buffers included."""
    F, depths = CONFIGS[name]
    dims = [F * 2**i for i in range(5)]
    motion = {3: 8 * F // depths[3], 4: 16 * F // depths[4]}
    layout = []

    def conv(key, cin, cout, k=3):
        layout.extend([(f"{key}.weight", (cout, cin, k, k)), (f"{key}.bias", (cout,))])

    def vector(key, n, names=("weight", "bias")):
        layout.extend((f"{key}.{what}", (n,)) for what in names)

    def linear(key, cin, cout):
        layout.extend([(f"{key}.weight", (cout, cin)), (f"{key}.bias", (cout,))])

    bone = "feature_bone"
    for j in range(depths[0]):
        conv(f"{bone}.block1.conv.{2 * j}", 3 if j == 0 else F, F)
        vector(f"{bone}.block1.conv.{2 * j + 1}", F, ("weight",))
    for stage in (2, 3):
        channels = dims[stage - 1]
        conv(f"{bone}.patch_embed{stage}.0", dims[stage - 2], channels)
        vector(f"{bone}.patch_embed{stage}.1", channels, ("weight",))
        for j in range(depths[stage - 1]):
            conv(f"{bone}.block{stage}.conv.{2 * j}", channels, channels)
            vector(f"{bone}.block{stage}.conv.{2 * j + 1}", channels, ("weight",))
    for k, cin in enumerate([4 * F, 2 * F, 2 * F, F, F, F, F]):  # 1/4 once, 1/2 twice, full resolution 4 times
        conv(f"{bone}.patch_embed4.layers.{k}", cin, F)
    conv(f"{bone}.patch_embed4.proj", 7 * F, 8 * F, 1)
    vector(f"{bone}.patch_embed4.norm", 8 * F)
    conv(f"{bone}.patch_embed5.proj", 8 * F, 16 * F)
    vector(f"{bone}.patch_embed5.norm", 16 * F)
    for stage in (4, 5):
        dim, motion_dim = dims[stage - 1], motion[stage - 1]
        for j in range(depths[stage - 1]):
            block = f"{bone}.block{stage}.{j}"
            vector(f"{block}.norm1", dim)
            linear(f"{block}.attn.q", dim, dim)
            linear(f"{block}.attn.kv", dim, 2 * dim)
            linear(f"{block}.attn.cor_embed", 2, motion_dim)
            linear(f"{block}.attn.proj", dim, dim)
            linear(f"{block}.attn.motion_proj", motion_dim, motion_dim)
            vector(f"{block}.norm2", dim)
            linear(f"{block}.mlp.fc1", dim, 4 * dim)
            layout.extend(
                [
                    (f"{block}.mlp.dwconv.dwconv.weight", (4 * dim, 1, 3, 3)),
                    (f"{block}.mlp.dwconv.dwconv.bias", (4 * dim,)),
                ]
            )
            linear(f"{block}.mlp.fc2", 4 * dim, dim)
            if j % 2:  # shifted blocks: the mask and padded area of the last forward in training
                windows = BUFFER_WINDOWS[stage]
                layout.extend([(f"{block}.attn_mask", (windows, 49, 49)), (f"{block}.HW", (1,))])
        vector(f"{bone}.norm{stage}", dim)
    for i, (stage, images) in enumerate(((4, 6), (3, 17))):  # block.0 at 1/16, block.1 at 1/8
        cin = 2 * (motion[stage] * depths[stage] + dims[stage]) // 16 + images
        for k, (a, b) in enumerate([(cin, 4 * F), (4 * F, 4 * F), (4 * F, 5)]):
            conv(f"block.{i}.conv.{k}.0", a, b)
            vector(f"block.{i}.conv.{k}.1", b, ("weight",))
    c = 2 * F
    for k, (cin, cout) in enumerate([(17 + c, 2 * c), (4 * c, 4 * c), (8 * c, 8 * c), (16 * c, 16 * c)]):
        for part, a in (("conv1", cin), ("conv2", cout)):
            conv(f"unet.down{k}.{part}.0", a, cout)
            vector(f"unet.down{k}.{part}.1", cout, ("weight",))
    for k, (cin, cout) in enumerate([(32 * c, 8 * c), (16 * c, 4 * c), (8 * c, 2 * c), (4 * c, c)]):
        layout.extend([(f"unet.up{k}.0.weight", (cin, cout, 4, 4)), (f"unet.up{k}.0.bias", (cout,))])
        vector(f"unet.up{k}.1", cout, ("weight",))
    conv("unet.conv", c, 3)
    return layout


def synthesised(name: str) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(len(name))
    state = {key: 0.05 * torch.randn(shape, generator=generator) for key, shape in released_layout(name)}
    for key in state:
        if key.endswith(".HW"):
            state[key] = torch.tensor([state[key.replace(".HW", ".attn_mask")].shape[0] * 49.0])
    return state


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict:
    """Both releases' files as released: ``module.`` keys, buffers included."""
    folder = tmp_path_factory.mktemp("ema_vfi")
    paths = {}
    for name in CONFIGS:
        paths[name] = folder / f"{name}.pkl"
        torch.save({f"module.{key}": value for key, value in synthesised(name).items()}, paths[name])
    return paths


@pytest.fixture(scope="module")
def pair() -> list[torch.Tensor]:
    """The real 1080p triplet's frame1 and frame3 at 96x54 (RGB, [0, 1]); InputPadder pads 5 rows above and below."""
    frames = []
    for n in (1, 3):
        image = cv2.imread(str(shared("triplets", "ccvfi_dragon_1080p", f"frame{n}.png")))
        image = cv2.cvtColor(cv2.resize(image, (96, 54), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        frames.append(torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255)
    return frames


def test_layout_is_the_released_one():
    for release in (OURS_T, OURS_SMALL_T):
        state = EMAVFI(release).state_dict()
        expected = [(k, s) for k, s in released_layout(release.name) if not k.endswith((".attn_mask", ".HW"))]
        assert sorted((key, tuple(t.shape)) for key, t in state.items()) == sorted(expected)
        assert sum(t.numel() for t in state.values()) == PAPER_PARAMETERS[release.name]


def test_loads_strictly_with_and_without_the_prefix_and_buffers(tmp_path, checkpoints):
    model = EMAVFI.from_checkpoint(checkpoints["ours_small_t"], OURS_SMALL_T)
    expected = synthesised("ours_small_t")
    assert not model.training
    assert all(torch.equal(tensor, expected[key]) for key, tensor in model.state_dict().items())
    bare = tmp_path / "bare.pkl"
    torch.save({key: value for key, value in expected.items() if not key.endswith((".attn_mask", ".HW"))}, bare)
    assert torch.equal(EMAVFI.from_checkpoint(bare, OURS_SMALL_T).unet.conv.bias, expected["unet.conv.bias"])


def test_wrong_files_are_refused(tmp_path, checkpoints):
    cpu = torch.device("cpu")
    small, large = METHODS[1], METHODS[0]
    with pytest.raises(MethodError) as error:
        small.load({"ema-vfi-small": checkpoints["ours_t"]}, cpu)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{checkpoints['ours_t']}: not EMA-VFI's ours_small_t.pkl")
    assert message.endswith("it looks like ours_t.pkl (F=32), method ema-vfi")
    with pytest.raises(MethodError, match=r"looks like ours_small_t.pkl \(F=16\), method ema-vfi-small$"):
        large.load({"ema-vfi": checkpoints["ours_small_t"]}, cpu)
    state = synthesised("ours_small_t")
    del state["unet.conv.bias"]
    state["feature_bone.block4.0.attn_mask"] = torch.zeros(40, 49, 49)  # only the shifted blocks' are the release's
    torch.save(state, path := tmp_path / "edited.pkl")
    with pytest.raises(
        CheckpointError,
        match=r"1 missing keys \(unet.conv.bias\); 1 unexpected keys \(feature_bone.block4.0.attn_mask\)$",
    ):
        EMAVFI.from_checkpoint(path, OURS_SMALL_T)
    state = synthesised("ours_small_t")
    state["block.0.conv.2.0.weight"] = torch.zeros(6, 64, 3, 3)
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"block.0.conv.2.0.weight \(6, 64, 3, 3\) instead of \(5, 64, 3, 3\)"):
        EMAVFI.from_checkpoint(path, OURS_SMALL_T)


def test_flow_heads_are_scaled_per_stage_and_blended_by_the_mask(checkpoints, pair):
    """Heads reduced to their last layer's bias: block.0 (1/16 stage, output at 1/4) says 1 px t->0 and mask
    logit 30, block.1 adds nothing, the U-Net's residual is 0: the frame is frame0 sampled 4 px to the right."""
    network = EMAVFI.from_checkpoint(checkpoints["ours_small_t"], OURS_SMALL_T)
    frame0 = torch.nn.functional.pad(pair[0], (0, 0, PAD, PAD), mode="replicate")
    frame1 = torch.nn.functional.pad(pair[1], (0, 0, PAD, PAD), mode="replicate")
    with torch.no_grad():
        for layer in (network.block[0].conv[2][0], network.block[1].conv[2][0], network.unet.conv):
            layer.weight.zero_()
            layer.bias.zero_()
        network.block[0].conv[2][0].bias[[0, 4]] = torch.tensor([1.0, 30.0])
        middle, flows, mask = network(frame0, frame1, 0.25)
    for flow in flows:  # 1 px at 1/4 resolution: 4 px; nothing else
        torch.testing.assert_close(flow, torch.zeros_like(flow).index_fill_(1, torch.tensor([0]), 4.0))
    torch.testing.assert_close(middle[..., :-4], frame0[..., 4:], atol=2e-5, rtol=0)
    torch.testing.assert_close(middle[..., -4:], frame0[..., -1:].expand(-1, -1, -1, 4), atol=2e-5, rtol=0)
    torch.testing.assert_close(warp(frame0, flows[-1][:, :2]), middle, atol=2e-5, rtol=0)


def test_timestep_per_triplet(checkpoints, pair):
    network = EMAVFI.from_checkpoint(checkpoints["ours_small_t"], OURS_SMALL_T)
    frames = [torch.nn.functional.pad(torch.cat([f, f.flip(3)]), (0, 0, PAD, PAD), mode="replicate") for f in pair]
    with torch.no_grad():
        both = network(*frames, torch.tensor([0.25, 0.5]))[0]
        first, second = (network(frames[0][i : i + 1], frames[1][i : i + 1], t)[0] for i, t in ((0, 0.25), (1, 0.5)))
        other = network(frames[0][:1], frames[1][:1], 0.5)[0]
    torch.testing.assert_close(both, torch.cat([first, second]), atol=1e-5, rtol=0)
    assert (first - other).abs().max() > 1e-3  # the time matters


@pytest.mark.parametrize("index", [0, 1], ids=["ema-vfi", "ema-vfi-small"])
def test_method_on_real_frames(checkpoints, pair, index):
    """BGR, centred replicate padding, and TTA exactly for ours_t: its output commutes with rotating both
    frames by 180 degrees (the centred padding is symmetric here), ours_small_t's does not."""
    method = METHODS[index]
    release = (OURS_T, OURS_SMALL_T)[index]
    assert method.any_timestep and method.fit is None
    interpolate = method.load({method.name: checkpoints[release.name]}, torch.device("cpu"))
    frame1, frame3 = pair
    with torch.inference_mode():
        middle, quarter = (interpolate(frame1, frame3, None, t=t) for t in (0.5, 0.25))
        rotated = interpolate(frame1.flip(2, 3), frame3.flip(2, 3), None, t=0.25).flip(2, 3)
    assert middle.shape == quarter.shape == (1, 3, 54, 96)
    assert 0 <= float(quarter.min()) and float(quarter.max()) <= 1
    assert (middle - quarter).abs().max() > 1e-3
    if method.name == "ema-vfi":
        torch.testing.assert_close(rotated, quarter, atol=1e-5, rtol=0)
    else:
        assert (rotated - quarter).abs().max() > 1e-3
        network = EMAVFI.from_checkpoint(checkpoints[release.name], release)
        bgr = [torch.nn.functional.pad(f.flip(1), (0, 0, PAD, PAD), mode="replicate") for f in pair]
        with torch.no_grad():
            direct = network(*bgr, 0.25)[0][..., PAD:-PAD, :].flip(1)
        torch.testing.assert_close(quarter, direct, atol=1e-6, rtol=0)


def test_bench_scores_both(tmp_path, checkpoints):
    tiny_atd_layout(tmp_path / "atd", 1)
    weights = {"ema-vfi": checkpoints["ours_t"], "ema-vfi-small": checkpoints["ours_small_t"]}
    methods_run = ["ema-vfi", "ema-vfi-small"]
    run_bench(tmp_path / "atd", methods_run, tmp_path / "r", size=(96, 54), device="cpu", weights=weights)
    rows = pq.read_table(tmp_path / "r" / "per_triplet.parquet").to_pandas()
    assert sorted(rows["method"]) == methods_run and set(rows["status"]) == {"ok"}
    assert all(math.isfinite(psnr) for psnr in rows["psnr"])
    facts = json.loads((tmp_path / "r" / "run.json").read_text())["methods"]
    assert facts["ema-vfi"]["weights"]["ema-vfi"]["sha256"] == methods.sha256(checkpoints["ours_t"])
    assert "TTA" in facts["ema-vfi"]["summary"] and facts["ema-vfi-small"]["padding"] == "none"
