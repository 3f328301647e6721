"""The RIFE family: each release's flownet.pkl layout, strict and safe loading, refusal of another
release's file naming it, what the blocks' outputs mean (flows scaled per block, pixel-exact warps,
the mask blend), the timestep of 4.x, the benchmark methods, on CPU.

Checkpoints are synthesised from the released layouts, written out below from each release's
``train_log/IFNet_HDv3.py`` (HDv3 v3.6: three PReLU blocks and the ``block_tea`` teacher; 4.6: four
IFBlocks; 4.15: plus a 32-wide encoder of 8 channels; 4.22, 4.22.lite, 4.25: 13-channel blocks and
their encoders), keys as DistributedDataParallel training saved them (``module.`` first), with
seeded random values. Parameter totals are those of HolyWu/vs-rife's networks for the same releases.
"""

from __future__ import annotations

import json
import math
import re

import pyarrow.parquet as pq
import pytest
import torch

from atdkit.benchmark import methods
from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.harness import fit_inputs, run_bench
from atdkit.benchmark.methods import MethodError, Padding, get
from atdkit.benchmark.methods.rife import METHOD, RELEASES, IFNet
from atdkit.images import read_rgb
from helpers import Layout, moving_square, rife_block_layout, rife_blocks_layout, shared, tiny_atd_layout


def encoder(width: int, channels: int) -> Layout:
    convs = [("cnn0", (width, 3, 3, 3)), ("cnn1", (width, width, 3, 3)), ("cnn2", (width, width, 3, 3))]
    layout = [
        (f"encode.{c}.{kind}", shape if kind == "weight" else shape[:1])
        for c, shape in convs
        for kind in ("weight", "bias")
    ]
    return layout + [("encode.cnn3.weight", (width, channels, 4, 4)), ("encode.cnn3.bias", (channels,))]


def block_hd(name: str, inputs: int, width: int = 90) -> Layout:
    def conv(prefix, in_channels, out_channels):
        return [
            (f"{prefix}.0.weight", (out_channels, in_channels, 3, 3)),
            (f"{prefix}.0.bias", (out_channels,)),
            (f"{prefix}.1.weight", (out_channels,)),  # PReLU
        ]

    layout = conv(f"{name}.conv0.0", inputs, width // 2) + conv(f"{name}.conv0.1", width // 2, width)
    for k in range(4):
        layout += conv(f"{name}.convblock{k}.0", width, width) + conv(f"{name}.convblock{k}.1", width, width)
    for head, outputs in (("conv1", 4), ("conv2", 1)):
        layout += [
            (f"{name}.{head}.0.weight", (width, width // 2, 4, 4)),
            (f"{name}.{head}.0.bias", (width // 2,)),
            (f"{name}.{head}.1.weight", (width // 2,)),
            (f"{name}.{head}.2.weight", (width // 2, outputs, 4, 4)),
            (f"{name}.{head}.2.bias", (outputs,)),
        ]
    return layout


LAYOUTS: dict[str, Layout] = {
    "rife-hdv3": [entry for i in range(3) for entry in block_hd(f"block{i}", 7 + 4)] + block_hd("block_tea", 10 + 4),
    "rife-4.6": rife_blocks_layout([7, 12, 12, 12], [192, 128, 96, 64], 6),
    "rife-4.15": rife_blocks_layout([7 + 16] + [8 + 4 + 16] * 3, [192, 128, 96, 64], 6) + encoder(32, 8),
    "rife-4.22": rife_blocks_layout([7 + 16] + [8 + 4 + 16 + 8] * 3, [256, 192, 96, 48], 13) + encoder(32, 8),
    "rife-4.22-lite": rife_blocks_layout([7 + 8] + [8 + 4 + 8 + 8] * 3, [192, 128, 64, 32], 13) + encoder(16, 4),
    "rife-4.25": rife_blocks_layout([7 + 8] + [8 + 4 + 8 + 8] * 4, [192, 128, 96, 64, 32], 13) + encoder(16, 4),
}
PARAMETERS = {  # of vs-rife's IFNet (+ Head) per release; HDv3 with its teacher block
    "rife-hdv3": 3_038_015,
    "rife-4.6": 5_306_256,
    "rife-4.15": 5_364_312,
    "rife-4.22": 9_322_416,
    "rife-4.22-lite": 4_866_052,
    "rife-4.25": 5_664_776,
}
# what 4.22's IFNet_HDv3.py also defines (training only): the teacher block and the timestep estimator
TRAINING_4_22 = rife_block_layout("teacher", 8 + 4 + 16 + 3 + 8, 96, 13) + [
    (f"caltime.{i}.{kind}", shape if kind == "weight" else shape[:1])
    for i, shape in (
        (0, (32, 25, 3, 3)),
        (2, (64, 32, 3, 3)),
        (4, (64, 64, 3, 3)),
        (6, (64, 64, 3, 3)),
        (8, (1, 64, 3, 3)),
    )
    for kind in ("weight", "bias")
]


def synthesised(layout: Layout, seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {name: 0.05 * torch.randn(shape, generator=generator) for name, shape in layout}


def seed(release: str) -> int:
    return list(LAYOUTS).index(release)


def save(path, state: dict[str, torch.Tensor]):
    torch.save({"module." + name: tensor for name, tensor in state.items()}, path)
    return path


@pytest.fixture(scope="module")
def official_state() -> dict[str, torch.Tensor]:
    return synthesised(LAYOUTS["rife-4.6"], seed("rife-4.6"))


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> dict:
    """A synthesised flownet.pkl per release."""
    folder = tmp_path_factory.mktemp("rife")
    return {
        name: save(folder / f"{name}.pkl", synthesised(layout, seed))
        for seed, (name, layout) in enumerate(LAYOUTS.items())
    }


@pytest.fixture(scope="module")
def flownet(released):
    return released["rife-4.6"]


@pytest.fixture(scope="module")
def real_crop() -> tuple[torch.Tensor, torch.Tensor]:
    """Two real keyframes, a 96x64 crop where the drawing moves."""
    frames = [read_rgb(shared("pairs", "anime_keyframes_640x540", f"konobi12_panel_{n}.png")) for n in ("009", "018")]
    return tuple(torch.from_numpy(f[200:264, 250:346].copy()).permute(2, 0, 1)[None].float() / 255 for f in frames)


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_layouts_are_the_released_ones(name):
    assert sorted((key, tuple(shape)) for key, shape in RELEASES[name].layout.items()) == sorted(LAYOUTS[name])
    assert sum(math.prod(shape) for _, shape in LAYOUTS[name]) == PARAMETERS[name]


def test_methods_aliases_and_what_they_declare():
    assert get("rife") is get("rife-4.6") is METHOD
    assert {name for name in methods.available() if name.startswith("rife")} == set(LAYOUTS)
    for name in LAYOUTS:
        method = get(name)
        assert method.weights[0].key == name and method.trainable is None
        assert method.fit == Padding(32 if name == "rife-hdv3" else 128, "constant")
        assert method.any_timestep == (name != "rife-hdv3")


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_each_release_loads_strictly_and_runs_on_real_frames(name, released, real_crop):
    expected = torch.load(released[name], weights_only=True)
    network = RELEASES[name].load(released[name])
    assert not network.training
    state = network.state_dict()
    assert all(
        torch.equal(state[key.removeprefix("module.")], tensor)
        for key, tensor in expected.items()
        if ".block_tea." not in key
    )
    frame0, frame1 = real_crop
    interpolate = get(name).load({name: released[name]}, torch.device("cpu"))
    (padded0, padded1), restore = fit_inputs(get(name).fit, [frame0, frame1], [False, False])
    with torch.inference_mode():
        middle = restore(interpolate(padded0, padded1, None, 0.5))
        later = restore(interpolate(padded0, padded1, None, 0.8))
    assert middle.shape == frame0.shape and torch.isfinite(middle).all()
    if name == "rife-hdv3":  # no timestep input: always the middle frame
        torch.testing.assert_close(later, middle, rtol=0, atol=0)
    else:
        assert (later - middle).abs().max() > 1e-3


@pytest.mark.parametrize(
    "name, other",
    [("rife-4.22", "rife-4.15"), ("rife-4.25", "rife-4.22-lite"), ("rife-hdv3", "rife-4.6"), ("rife-4.6", "rife-4.25")],
)
def test_another_release_is_refused_naming_it(name, other, released):
    with pytest.raises(CheckpointError) as error:
        RELEASES[other].load(released[name])
    message = str(error.value)
    assert "\n" not in message and message.startswith(
        f"{released[name]}: looks like a {RELEASES[name].title} flownet.pkl"
    )
    assert message.endswith(f"not {RELEASES[other].described}: run it as --methods {name}")
    with pytest.raises(MethodError, match=re.escape(f"looks like a {RELEASES[name].title} flownet.pkl")):
        get(other).load({other: released[name]}, torch.device("cpu"))


def test_shared_layouts_are_named_in_the_refusal(released):
    with pytest.raises(
        CheckpointError, match=r"looks like a RIFE 4.22 flownet.pkl \(or 4.21, 4.23: the same layout\), not"
    ):
        RELEASES["rife-4.6"].load(released["rife-4.22"])


def test_training_only_parts(tmp_path):
    # 4.22's file with the teacher and timestep estimator its IFNet_HDv3.py defines: dropped, as Practical-RIFE does
    full = synthesised(LAYOUTS["rife-4.22"] + TRAINING_4_22, 7)
    network = RELEASES["rife-4.22"].load(save(tmp_path / "full.pkl", full))
    assert torch.equal(network.state_dict()["block3.lastconv.0.bias"], full["block3.lastconv.0.bias"])
    # anything else extra is refused, and HDv3's teacher must be there (its RIFE_HDv3.py loads strictly)
    extra = synthesised(LAYOUTS["rife-4.25"], 8) | {"contextnet.conv1.weight": torch.zeros(1)}
    with pytest.raises(CheckpointError, match=r"not a RIFE 4.25 .*1 unexpected keys \(contextnet.conv1.weight\)"):
        RELEASES["rife-4.25"].load(save(tmp_path / "extra.pkl", extra))
    student = {k: v for k, v in synthesised(LAYOUTS["rife-hdv3"], 9).items() if not k.startswith("block_tea.")}
    teacher = len(block_hd("block_tea", 14))
    with pytest.raises(
        CheckpointError, match=rf"not a RIFE HDv3 \(v3.6\) flownet.pkl: {teacher} missing keys \(block_tea"
    ):
        RELEASES["rife-hdv3"].load(save(tmp_path / "student.pkl", student))


def test_4x_timestep_per_triplet(released, real_crop):
    network = RELEASES["rife-4.25"].load(released["rife-4.25"])
    frame0, frame1 = (torch.nn.functional.pad(f, (0, 32, 0, 0)).expand(2, -1, -1, -1) for f in real_crop)
    with torch.inference_mode():
        both = network(frame0, frame1, torch.tensor([0.25, 0.75]))
        quarter, three_quarters = network(frame0[:1], frame1[:1], 0.25), network(frame0[:1], frame1[:1], 0.75)
    torch.testing.assert_close(both, torch.cat([quarter, three_quarters]), atol=1e-5, rtol=1e-5)
    assert (quarter - three_quarters).abs().max() > 1e-3


def test_loads_strictly_with_and_without_the_module_prefix(tmp_path, flownet, official_state):
    bare = tmp_path / "bare.pkl"
    torch.save(official_state, bare)
    for path in (flownet, bare):
        model = IFNet.from_checkpoint(path)
        assert not model.training
        assert all(torch.equal(model.state_dict()[name], tensor) for name, tensor in official_state.items())


def test_other_rife_versions_and_other_files_are_refused(tmp_path, official_state):
    v45 = dict(official_state)  # RIFE 4.5: the same blocks with 20 output channels
    for i, width in enumerate((192, 128, 96, 64)):
        v45[f"block{i}.lastconv.0.weight"], v45[f"block{i}.lastconv.0.bias"] = (
            torch.zeros(width, 20, 4, 4),
            torch.zeros(20),
        )
    path = save(tmp_path / "v45.pkl", v45)
    with pytest.raises(CheckpointError) as error:
        IFNet.from_checkpoint(path)
    message = str(error.value)
    assert (
        message.startswith(f"{path}: not a RIFE 4.6 flownet.pkl: 8 tensors of the wrong shape") and "\n" not in message
    )
    assert "block0.lastconv.0.bias (20,) instead of (24,)" in message
    v47 = dict(official_state)  # RIFE 4.7: a small encoder, not in the family
    v47["encode.0.weight"] = torch.zeros(16, 3, 3, 3)
    del v47["block0.conv0.0.0.weight"]
    save(path, v47)
    with pytest.raises(
        CheckpointError, match=r"1 missing keys \(block0.conv0.0.0.weight\); 1 unexpected keys \(encode.0.weight\)"
    ):
        IFNet.from_checkpoint(path)
    slomo = tmp_path / "SuperSloMo.ckpt"
    torch.save({"Detail": "End to end Super SloMo.", "state_dictFC": {"conv1.weight": torch.zeros(1)}}, slomo)
    with pytest.raises(MethodError, match="SuperSloMo.ckpt: not a state dict: 2 entries are not named tensors"):
        METHOD.load({"rife-4.6": slomo}, torch.device("cpu"))
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(b"PK\x03\x04" + bytes(64))
    with pytest.raises(CheckpointError, match="truncated.pkl: not a readable PyTorch checkpoint"):
        IFNet.from_checkpoint(truncated)


@pytest.fixture(scope="module")
def constant_network() -> IFNet:
    """A network whose blocks output their last layer's bias: its weights zeroed."""
    network = IFNet().eval()
    with torch.no_grad():
        for block in (network.block0, network.block1, network.block2, network.block3):
            block.lastconv[0].weight.zero_()
            block.lastconv[0].bias.zero_()
    return network


def test_blocks_outputs_are_flows_scaled_by_the_block_and_a_mask(constant_network):
    frame0, _, frame1 = moving_square(32, 64)
    with torch.no_grad():
        # no flow, mask logit 0: the mean of both frames (the warp is exact at whole pixels)
        torch.testing.assert_close(constant_network(frame0, frame1), (frame0 + frame1) / 2)
        # block0 (1/8 resolution) outputs a flow t->0 of 1 px and a mask logit of 30: 8 px at full
        # resolution, frame0 alone; the transposed convolution's channels 4k..4k+3 become output channel k
        bias = constant_network.block0.lastconv[0].bias
        bias[0:4], bias[16:20] = 1.0, 30.0
        moved = constant_network(frame0, frame1)
        bias.zero_()
    torch.testing.assert_close(moved[..., :-8], frame0[..., 8:])  # sampled 8 px to the right
    torch.testing.assert_close(moved[..., -8:], frame0[..., -1:].expand(-1, -1, -1, 8))  # the edge repeated


def test_hdv3_runs_each_block_both_ways_and_averages(released):
    network = RELEASES["rife-hdv3"].load(released["rife-hdv3"])
    frame0, _, frame1 = moving_square(32, 64)
    with torch.no_grad():
        for block in (network.block0, network.block1, network.block2):
            for head in (block.conv1[2], block.conv2[2]):
                head.weight.zero_()
                head.bias.zero_()
        torch.testing.assert_close(network(frame0, frame1), (frame0 + frame1) / 2)  # no flow, mask logit 0
        # block0 (1/4 resolution) says "x flow t->0 of 1 px" both ways: the swapped run's answer lands on t->1
        network.block0.conv1[2].bias[0] = 1.0
        frame, flows = network.estimate(frame0, frame1)
    torch.testing.assert_close(flows[0][:, 0], torch.full_like(flows[0][:, 0], 2.0))  # (4 + 0) / 2 px
    torch.testing.assert_close(flows[0][:, 2], torch.full_like(flows[0][:, 2], 2.0))
    torch.testing.assert_close(frame[..., :-2], (frame0[..., 2:] + frame1[..., 2:]) / 2)


def test_forward_on_odd_sizes_through_the_methods_padding(flownet):
    network = IFNet.from_checkpoint(flownet)
    frame0, _, frame1 = moving_square(45, 70, batch=2)
    (padded0, padded1), restore = fit_inputs(METHOD.fit, [frame0, frame1], [False, False])
    assert padded0.shape[-2:] == (128, 128) and torch.count_nonzero(padded0[..., 45:, :]) == 0  # zeros, as RIFE pads
    with torch.inference_mode():
        middle = restore(network(padded0, padded1))
        alone = restore(network(padded0[1:], padded1[1:]))
    assert middle.shape == (2, 3, 45, 70) and torch.isfinite(middle).all()
    torch.testing.assert_close(middle[1:], alone, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="RIFE 4.6 needs a height and width divisible by 32, got 70x45"):
        network(frame0, frame1)


def test_listed_with_where_to_get_its_weights(tmp_path, monkeypatch, capsys):
    from atdkit.cli import main

    monkeypatch.setenv("COLUMNS", "1000")
    monkeypatch.setenv("ATDKIT_WEIGHTS", str(tmp_path))
    assert main(["bench", "--list"]) == 0
    listing = capsys.readouterr().err.splitlines()
    for name, release in RELEASES.items():
        row = next(line for line in listing if f" {name} " in line)
        assert f"{release.filename}: missing (get it from {release.source[:40]}" in row
    row = next(line for line in listing if " rife-4.6 " in line)
    assert "RIFE 4.6" in row and Padding(128, "constant").describe() in row


@pytest.mark.slow
def test_bench_scores_it(tmp_path, flownet):
    tiny_atd_layout(tmp_path / "atd", 2)
    weights = {"rife": flownet}  # the key before the family came still names 4.6's file
    run_bench(tmp_path / "atd", ["rife"], tmp_path / "r", size=(320, 180), device="cpu", weights=weights)
    rows = pq.read_table(tmp_path / "r" / "per_triplet.parquet").to_pandas()
    assert list(rows["status"]) == ["ok", "ok"] and all(math.isfinite(psnr) for psnr in rows["psnr"])
    facts = json.loads((tmp_path / "r" / "run.json").read_text())["methods"]["rife-4.6"]
    assert facts["padding"] == Padding(128, "constant").describe()
    assert facts["weights"]["rife-4.6"]["sha256"] == methods.sha256(flownet)
