"""RIFE 4.6: the released flownet.pkl's layout, strict and safe loading, what the blocks' outputs
mean (flows scaled per block, pixel-exact warps, the mask blend), the benchmark method, on CPU.

Checkpoints are synthesised from Practical-RIFE v4.6's layout (written out below: four IFBlocks,
keys as its DistributedDataParallel training saved them, ``module.`` first) with random values.
"""

from __future__ import annotations

import json
import math

import pyarrow.parquet as pq
import pytest
import torch

from atdkit.benchmark import methods
from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.harness import run_bench
from atdkit.benchmark.methods import MethodError, Padding
from atdkit.benchmark.methods.rife import METHOD, IFNet
from helpers import check_odd_sizes_through_padding, moving_square, tiny_atd_layout

BLOCKS = [(7, 192), (12, 128), (12, 96), (12, 64)]  # (input channels, width) of block0..block3


def flownet_layout() -> list[tuple[str, tuple[int, ...]]]:
    layout = []
    for i, (inputs, width) in enumerate(BLOCKS):
        block = f"block{i}"
        layout += [
            (f"{block}.conv0.0.0.weight", (width // 2, inputs, 3, 3)),
            (f"{block}.conv0.0.0.bias", (width // 2,)),
            (f"{block}.conv0.1.0.weight", (width, width // 2, 3, 3)),
            (f"{block}.conv0.1.0.bias", (width,)),
        ]
        for j in range(8):
            layout += [
                (f"{block}.convblock.{j}.beta", (1, width, 1, 1)),
                (f"{block}.convblock.{j}.conv.weight", (width, width, 3, 3)),
                (f"{block}.convblock.{j}.conv.bias", (width,)),
            ]
        layout += [(f"{block}.lastconv.0.weight", (width, 24, 4, 4)), (f"{block}.lastconv.0.bias", (24,))]
    return layout


@pytest.fixture(scope="module")
def official_state() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {name: 0.05 * torch.randn(shape, generator=generator) for name, shape in flownet_layout()}


@pytest.fixture(scope="module")
def flownet(tmp_path_factory, official_state):
    path = tmp_path_factory.mktemp("rife") / "flownet.pkl"
    torch.save({"module." + name: tensor for name, tensor in official_state.items()}, path)
    return path


def test_layout_is_the_released_one():
    state = IFNet().state_dict()
    assert sorted((name, tuple(t.shape)) for name, t in state.items()) == sorted(flownet_layout())
    assert sum(t.numel() for t in state.values()) == 5_306_256


def test_loads_strictly_with_and_without_the_module_prefix(tmp_path, flownet, official_state):
    bare = tmp_path / "bare.pkl"
    torch.save(official_state, bare)
    for path in (flownet, bare):
        model = IFNet.from_checkpoint(path)
        assert not model.training
        assert all(torch.equal(model.state_dict()[name], tensor) for name, tensor in official_state.items())


def test_other_rife_versions_and_other_files_are_refused(tmp_path, official_state):
    v45 = dict(official_state)  # RIFE 4.5: the same blocks with 20 output channels
    for i, (_, width) in enumerate(BLOCKS):
        v45[f"block{i}.lastconv.0.weight"], v45[f"block{i}.lastconv.0.bias"] = (
            torch.zeros(width, 20, 4, 4),
            torch.zeros(20),
        )
    path = tmp_path / "v45.pkl"
    torch.save({"module." + k: v for k, v in v45.items()}, path)
    with pytest.raises(CheckpointError) as error:
        IFNet.from_checkpoint(path)
    message = str(error.value)
    assert (
        message.startswith(f"{path}: not a RIFE 4.6 flownet.pkl (Practical-RIFE v4.6): 8 tensors of the wrong shape")
        and "\n" not in message
    )
    assert "block0.lastconv.0.bias (20,) instead of (24,)" in message
    v47 = dict(official_state)  # RIFE 4.7 and later: a feature encoder and wider blocks
    v47["encode.0.weight"] = torch.zeros(16, 3, 3, 3)
    del v47["block0.conv0.0.0.weight"]
    torch.save({"module." + k: v for k, v in v47.items()}, path)
    with pytest.raises(
        CheckpointError, match=r"1 missing keys \(block0.conv0.0.0.weight\); 1 unexpected keys \(encode.0.weight\)"
    ):
        IFNet.from_checkpoint(path)
    slomo = tmp_path / "SuperSloMo.ckpt"
    torch.save({"Detail": "End to end Super SloMo.", "state_dictFC": {"conv1.weight": torch.zeros(1)}}, slomo)
    with pytest.raises(MethodError, match="SuperSloMo.ckpt: not a state dict: 2 entries are not named tensors"):
        METHOD.load({"rife": slomo}, torch.device("cpu"))
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


def test_forward_on_odd_sizes_through_the_harness_padding(flownet):
    padded0 = check_odd_sizes_through_padding(IFNet.from_checkpoint(flownet), METHOD.fit)
    assert torch.count_nonzero(padded0[..., 45:, :]) == 0  # zeros, as RIFE pads


def test_listed_with_where_to_get_its_weights(tmp_path, monkeypatch, capsys):
    from atdkit.cli import main

    monkeypatch.setenv("COLUMNS", "1000")
    monkeypatch.setenv("ATDKIT_WEIGHTS", str(tmp_path))
    assert main(["bench", "--list"]) == 0
    row = next(line for line in capsys.readouterr().err.splitlines() if " rife " in line)
    assert "RIFE 4.6" in row and Padding(32, "constant").describe() in row
    assert "flownet.pkl: missing (get it from Practical-RIFE v4.6" in row
    assert METHOD.trainable is None


@pytest.mark.slow
def test_bench_scores_it(tmp_path, flownet):
    tiny_atd_layout(tmp_path / "atd", 2)
    run_bench(tmp_path / "atd", ["rife"], tmp_path / "r", size=(320, 180), device="cpu", weights={"rife": flownet})
    rows = pq.read_table(tmp_path / "r" / "per_triplet.parquet").to_pandas()
    assert list(rows["status"]) == ["ok", "ok"] and all(math.isfinite(psnr) for psnr in rows["psnr"])
    facts = json.loads((tmp_path / "r" / "run.json").read_text())["methods"]["rife"]
    assert facts["padding"] == Padding(32, "constant").describe()
    assert facts["weights"]["rife"]["sha256"] == methods.sha256(flownet)
