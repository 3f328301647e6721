"""Super SloMo: the public checkpoint's layout, strict and safe loading, the equations of the forward
pass, a training step and atdkit-train checkpoints, the benchmark method end to end, on CPU.

Checkpoints are synthesised from the port's layout (the U-Net of avinashpaliwal/Super-SloMo's
model.py, written out below) with random values, and saved the way its train.py saves them:
both state dicts beside training records, a ``datetime`` among them, in the legacy
serialisation of the PyTorch 0.4.1 it was released with.
"""

from __future__ import annotations

import datetime
import json
import math

import pyarrow.parquet as pq
import pytest
import torch
import torch.nn.functional as F

from atdkit.benchmark import methods
from atdkit.benchmark.checkpoint import TRAINING, CheckpointError
from atdkit.benchmark.harness import run_bench
from atdkit.benchmark.methods import MethodError, Padding
from atdkit.benchmark.methods.superslomo import METHOD, SuperSloMo
from atdkit.benchmark.methods.superslomo.model import MEAN, backward_warp
from helpers import check_odd_sizes_through_padding, moving_square, tiny_atd_layout

CONVS = [  # the port's UNet(in, out): (name, out channels, in channels, kernel), in registration order
    ("conv1", 32, "in", 7),
    ("conv2", 32, 32, 7),
    ("down1.conv1", 64, 32, 5),
    ("down1.conv2", 64, 64, 5),
    ("down2.conv1", 128, 64, 3),
    ("down2.conv2", 128, 128, 3),
    ("down3.conv1", 256, 128, 3),
    ("down3.conv2", 256, 256, 3),
    ("down4.conv1", 512, 256, 3),
    ("down4.conv2", 512, 512, 3),
    ("down5.conv1", 512, 512, 3),
    ("down5.conv2", 512, 512, 3),
    ("up1.conv1", 512, 512, 3),
    ("up1.conv2", 512, 1024, 3),
    ("up2.conv1", 256, 512, 3),
    ("up2.conv2", 256, 512, 3),
    ("up3.conv1", 128, 256, 3),
    ("up3.conv2", 128, 256, 3),
    ("up4.conv1", 64, 128, 3),
    ("up4.conv2", 64, 128, 3),
    ("up5.conv1", 32, 64, 3),
    ("up5.conv2", 32, 64, 3),
    ("conv3", "out", 32, 3),
]


def unet_layout(in_channels: int, out_channels: int) -> list[tuple[str, tuple[int, ...]]]:
    channels = {"in": in_channels, "out": out_channels}
    layout = []
    for name, out, inp, kernel in CONVS:
        out, inp = channels.get(out, out), channels.get(inp, inp)
        layout += [(f"{name}.weight", (out, inp, kernel, kernel)), (f"{name}.bias", (out,))]
    return layout


def released(flow_state: dict, interp_state: dict) -> dict:
    """What the port's train.py writes."""
    return {
        "Detail": "End to end Super SloMo.",
        "epoch": 199,
        "timestamp": datetime.datetime(2018, 11, 20, 3, 14, 15),
        "trainBatchSz": 6,
        "validationBatchSz": 10,
        "learningRate": 1e-5,
        "loss": [[0.61, 0.58]],
        "valLoss": [0.6],
        "valPSNR": [29.7],
        "state_dictFC": flow_state,
        "state_dictAT": interp_state,
    }


def save_legacy(checkpoint, path) -> None:
    torch.save(checkpoint, path, _use_new_zipfile_serialization=False)


@pytest.fixture(scope="module")
def official_states() -> tuple[dict, dict]:
    generator = torch.Generator().manual_seed(0)
    return tuple(
        {name: 0.02 * torch.randn(shape, generator=generator) for name, shape in unet_layout(*channels)}
        for channels in ((6, 4), (20, 5))
    )


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, official_states):
    path = tmp_path_factory.mktemp("slomo") / "SuperSloMo.ckpt"
    save_legacy(released(*official_states), path)
    return path


@pytest.fixture(scope="module")
def model(checkpoint) -> SuperSloMo:
    return SuperSloMo.from_checkpoint(checkpoint)


def test_layout_is_the_ports():
    network = SuperSloMo()
    for part, channels in ((network.flow_computation, (6, 4)), (network.flow_interpolation, (20, 5))):
        assert [(name, tuple(t.shape)) for name, t in part.state_dict().items()] == unet_layout(*channels)
    assert sum(t.numel() for t in network.state_dict().values()) == 19_794_116 + 19_816_357


def test_the_released_checkpoint_loads_strictly(model, official_states):
    assert not model.training
    state = model.state_dict()
    for prefix, official in zip(("flow_computation.", "flow_interpolation."), official_states):
        assert all(torch.equal(state[prefix + name], tensor) for name, tensor in official.items())
    assert len(state) == sum(len(official) for official in official_states)


def test_the_released_file_passes_the_harness_check(checkpoint):
    """The file's datetime is a plain value: accepted where weight files are checked, not only when loading."""
    assert methods.resolve_weights(METHOD, {"superslomo": checkpoint}) == {"superslomo": checkpoint}


def test_a_mismatching_checkpoint_is_refused_naming_the_keys(tmp_path, official_states):
    flow_state, interp_state = (dict(state) for state in official_states)
    del interp_state["up5.conv2.bias"]
    interp_state["up6.conv1.weight"] = torch.zeros(1)
    path = tmp_path / "changed.ckpt"
    torch.save(released(flow_state, interp_state), path)
    with pytest.raises(CheckpointError) as error:
        SuperSloMo.from_checkpoint(path)
    message = str(error.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert (
        "not a Super SloMo checkpoint (state_dictAT, the arbitrary-time flow interpolation U-Net): "
        "1 missing keys (up5.conv2.bias); 1 unexpected keys (up6.conv1.weight)"
    ) in message
    swapped = tmp_path / "swapped.ckpt"
    torch.save(released(*reversed(official_states)), swapped)
    with pytest.raises(
        CheckpointError,
        match=r"state_dictFC, the flow computation U-Net\): 3 tensors of the wrong shape "
        r"\(conv1.weight \(32, 20, 7, 7\) instead of \(32, 6, 7, 7\), conv3.bias \(5,\) instead",
    ):
        SuperSloMo.from_checkpoint(swapped)


def test_foreign_and_damaged_files_are_refused(tmp_path, checkpoint):
    foreign = tmp_path / "anime_interp_full.ckpt"
    torch.save({"model_state_dict": {"module.feat_ext.conv1.weight": torch.zeros(32, 3, 3, 3)}}, foreign)
    with pytest.raises(
        CheckpointError,
        match="anime_interp_full.ckpt: not a Super SloMo checkpoint: it lacks state_dictFC and state_dictAT",
    ):
        SuperSloMo.from_checkpoint(foreign)
    with pytest.raises(
        MethodError, match="anime_interp_full.ckpt: checkpoint lacks state_dictFC, state_dictAT: not SuperSloMo.ckpt"
    ):
        methods.resolve_weights(METHOD, {"superslomo": foreign})
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(checkpoint.read_bytes()[:100_000])
    with pytest.raises(CheckpointError, match="truncated.ckpt: not a readable PyTorch checkpoint"):
        SuperSloMo.from_checkpoint(truncated)
    with pytest.raises(MethodError, match=r"truncated.ckpt: not a readable PyTorch checkpoint"):
        METHOD.load({"superslomo": truncated}, torch.device("cpu"))


def test_warping_samples_where_the_released_weights_were_trained_to_expect():
    """Coordinates normalised by the width, corner-aligned sampling: a zero flow samples x (W - 1) / W."""
    width = 8
    ramp = torch.arange(width, dtype=torch.float32).view(1, 1, 1, width).expand(1, 1, 2, width)
    zero = torch.zeros(1, 2, 2, width)
    torch.testing.assert_close(backward_warp(ramp, zero)[0, 0, 0], torch.arange(width) * (width - 1) / width)
    right = zero.clone()
    right[:, 0] = 1.0
    shifted = backward_warp(ramp, right)[0, 0, 0]
    torch.testing.assert_close(shifted, (torch.arange(width) + 1) * (width - 1) / width)
    far = zero.clone()
    far[:, 0] = 3 * width
    assert torch.count_nonzero(backward_warp(ramp + 1, far)) == 0  # zeros outside the image


@pytest.fixture(scope="module")
def constant_network() -> SuperSloMo:
    """A network whose U-Nets output constants (:func:`set_outputs`): their last convolution's weights zeroed."""
    network = SuperSloMo().eval()
    with torch.no_grad():
        network.flow_computation.conv3.weight.zero_()
        network.flow_interpolation.conv3.weight.zero_()
    return network


def set_outputs(network: SuperSloMo, flow=(0.0,) * 4, interpolation=(0.0,) * 5) -> SuperSloMo:
    with torch.no_grad():
        network.flow_computation.conv3.bias.copy_(torch.tensor(flow))
        network.flow_interpolation.conv3.bias.copy_(torch.tensor(interpolation))
    return network


def test_the_frame_is_the_visibility_weighted_mean_of_the_warped_frames(constant_network):
    frame0, _, frame1 = moving_square(32, 64)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    still = torch.zeros(1, 2, 32, 64)
    warped0, warped1 = (backward_warp(frame - mean, still) for frame in (frame0, frame1))
    with torch.no_grad():
        # no flows, equal visibility (sigmoid(0)): the mean of both frames as the warp samples them
        torch.testing.assert_close(set_outputs(constant_network)(frame0, frame1), (warped0 + warped1) / 2 + mean)
        # frame 0 fully visible: frame 0 alone
        torch.testing.assert_close(
            set_outputs(constant_network, interpolation=(0, 0, 0, 0, 40.0))(frame0, frame1), warped0 + mean
        )
        # flow residuals of 100 px: both warps leave the image; the zeros are the mean colour once it is added back
        gone = set_outputs(constant_network, interpolation=(100.0, 0, 100.0, 0, 0))(frame0, frame1)
        torch.testing.assert_close(gone, mean.expand_as(gone))
        # flow computation outputs (8, 0, -8, 0) through its final leaky ReLU: F0->1 = (8, 0), F1->0 = (-0.8, 0);
        # eq. 4 at t = 0.5: Ft->0 = -F0->1 / 4 + F1->0 / 4 = (-2.2, 0), Ft->1 = F0->1 / 4 - F1->0 / 4 = (2.2, 0)
        moved = set_outputs(constant_network, flow=(8.0, 0, -8.0, 0))(frame0, frame1)
    step = torch.tensor([2.2, 0.0]).view(1, 2, 1, 1).expand(1, 2, 32, 64)
    torch.testing.assert_close(
        moved, (backward_warp(frame0 - mean, -step) + backward_warp(frame1 - mean, step)) / 2 + mean
    )


def test_forward_on_odd_sizes_through_the_harness_padding(model):
    check_odd_sizes_through_padding(model, METHOD.fit)


def test_a_training_step_lowers_the_l1_loss(checkpoint, official_states):
    torch.manual_seed(0)
    network = METHOD.trainable.build({})  # random initialisation
    assert network.training
    frame0, truth, frame1 = moving_square(64, 64, batch=2)
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-4)
    loss = F.l1_loss(network(frame0, frame1), truth)
    loss.backward()
    for unet in (
        network.flow_computation,
        network.flow_interpolation,
    ):  # the loss reaches both U-Nets through the warps
        assert unet.conv1.weight.grad.abs().sum() > 0
    optimiser.step()
    with torch.no_grad():
        after = F.l1_loss(network(frame0, frame1), truth)
    assert after < loss.detach(), (loss.item(), after.item())
    tuned = METHOD.trainable.build({"superslomo": checkpoint})  # fine-tuning starts from the released weights
    assert tuned.training and torch.equal(tuned.flow_computation.conv1.weight, official_states[0]["conv1.weight"])


def train_checkpoint(path, network: SuperSloMo, method="superslomo", weights_key="superslomo") -> None:
    info = {
        "method": method,
        "weights_key": weights_key,
        "steps": 3,
        "epochs": 1,
        "dataset": "/data/cartoon",
        "dataset_fingerprint": "0" * 32,
        "best_val_psnr": 21.5,
    }
    torch.save({TRAINING: info, "model_state_dict": network.state_dict()}, path)


def test_an_atdkit_train_checkpoint_loads_back(tmp_path):
    torch.manual_seed(1)
    network = SuperSloMo()
    path = tmp_path / "best.pt"
    train_checkpoint(path, network)
    assert methods.resolve_weights(METHOD, {"superslomo": path}) == {"superslomo": path}
    for loaded in (SuperSloMo.from_checkpoint(path), methods.load_trained(METHOD, path, torch.device("cpu"))):
        assert not loaded.training
        assert all(torch.equal(loaded.state_dict()[name], tensor) for name, tensor in network.state_dict().items())
    other = tmp_path / "animeinterp.pt"
    train_checkpoint(other, network, method="animeinterp", weights_key="animeinterp")
    with pytest.raises(
        CheckpointError, match=r"animeinterp.pt: a checkpoint of method 'animeinterp' .* not a Super SloMo network"
    ):
        SuperSloMo.from_checkpoint(other)
    with pytest.raises(MethodError, match="a checkpoint of method 'animeinterp'"):
        methods.resolve_weights(METHOD, {"superslomo": other})


def test_listed_with_where_to_get_its_weights(tmp_path, monkeypatch, capsys, checkpoint):
    from atdkit.cli import main

    monkeypatch.setenv("COLUMNS", "1000")  # one table row per line
    monkeypatch.setenv("ATDKIT_WEIGHTS", str(tmp_path))
    assert main(["bench", "--list"]) == 0
    row = next(line for line in capsys.readouterr().err.splitlines() if " superslomo " in line)
    assert "Super SloMo" in row and Padding(32).describe() in row
    assert "SuperSloMo.ckpt: missing (get it from github.com/avinashpaliwal/Super-SloMo" in row
    (tmp_path / "SuperSloMo.ckpt").symlink_to(checkpoint)
    assert methods.weight_status(METHOD) == f"SuperSloMo.ckpt: found at {tmp_path / 'SuperSloMo.ckpt'}"


@pytest.mark.slow
def test_bench_scores_it_with_a_trained_checkpoint(tmp_path):
    tiny_atd_layout(tmp_path / "atd", 1)
    torch.manual_seed(2)
    weights = tmp_path / "best.pt"
    train_checkpoint(weights, SuperSloMo())
    run_bench(
        tmp_path / "atd", ["superslomo"], tmp_path / "r", size=(320, 180), device="cpu", weights={"superslomo": weights}
    )
    rows = pq.read_table(tmp_path / "r" / "per_triplet.parquet").to_pandas()
    assert list(rows["status"]) == ["ok"] and math.isfinite(rows["psnr"][0]) and rows["seconds"][0] > 0
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    facts = run["methods"]["superslomo"]
    assert facts["padding"] == Padding(32).describe()
    assert facts["weights"]["superslomo"]["trained"]["steps"] == 3
    assert facts["weights"]["superslomo"]["trained"]["dataset_fingerprint"] == "0" * 32
