"""SoftSplat: PWC-Net's published layout and strict loading, its cost volume and input scaling, the
importance metric with softmax splatting, forward passes through the harness padding, a training
step, and a trained checkpoint scored by ``run_bench``.

The PWC-Net checkpoint is synthesised from the key list of sniklaus/pytorch-pwc's
``network-default.pytorch`` (written out below from the port's architecture: the file holds the
state dict of its ``Network``, modules named ``module*``) with random values.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from atdkit import schema
from atdkit.benchmark import methods
from atdkit.benchmark.checkpoint import TRAINING, CheckpointError
from atdkit.benchmark.harness import fit_inputs, run_bench
from atdkit.benchmark.methods import MethodError
from atdkit.benchmark.methods.softsplat import METHOD, PWCNet, SoftSplat
from atdkit.benchmark.methods.softsplat.method import build_network
from atdkit.benchmark.methods.softsplat.metric import ImportanceMetric
from atdkit.benchmark.methods.softsplat.pwcnet import correlation
from atdkit.benchmark.methods.softsplat.warp import backwarp_inside
from atdkit.benchmark.ops import softsplat
from atdkit.store import write_table
from helpers import cartoon_triplet, run_cli, write_png

LEVELS = ("One", "Two", "Thr", "Fou", "Fiv", "Six")


def pwc_layout() -> list[tuple[str, tuple[int, ...]]]:
    """network-default.pytorch's tensors in file order: the pyramid (16..196 channels, three 3x3
    convolutions per level), the decoders of levels 2..6 (transposed 4x4 convolutions upsampling
    flow and features below level 6; five densely connected convolutions of 128, 128, 96, 64, 32
    channels and a flow convolution), the dilated refiner."""
    layout = []

    def conv(name, out_channels, in_channels, kernel=3):
        layout.extend(
            [(f"{name}.weight", (out_channels, in_channels, kernel, kernel)), (f"{name}.bias", (out_channels,))]
        )

    for level, (cin, cout) in enumerate(zip((3, 16, 32, 64, 96, 128), (16, 32, 64, 96, 128, 196))):
        for index, inputs in zip((0, 2, 4), (cin, cout, cout)):
            conv(f"moduleExtractor.module{LEVELS[level]}.{index}", cout, inputs)
    reads = {2: 81 + 32 + 4, 3: 81 + 64 + 4, 4: 81 + 96 + 4, 5: 81 + 128 + 4, 6: 81}
    for level in range(2, 7):
        name = f"module{LEVELS[level - 1]}"
        if level < 6:
            layout += [
                (f"{name}.moduleUpflow.weight", (2, 2, 4, 4)),
                (f"{name}.moduleUpflow.bias", (2,)),
                (f"{name}.moduleUpfeat.weight", (reads[level + 1] + 448, 2, 4, 4)),
                (f"{name}.moduleUpfeat.bias", (2,)),
            ]
        channels = reads[level]
        for dense, out_channels in zip(LEVELS, (128, 128, 96, 64, 32, 2)):
            conv(f"{name}.module{dense}.0", out_channels, channels)
            channels += out_channels
    for index, (cin, cout) in zip(
        range(0, 14, 2), ((565, 128), (128, 128), (128, 128), (128, 96), (96, 64), (64, 32), (32, 2))
    ):
        conv(f"moduleRefiner.moduleMain.{index}", cout, cin)
    return layout


@pytest.fixture(scope="module")
def pwc_state() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {name: 0.02 * torch.randn(shape, generator=generator) for name, shape in pwc_layout()}


def test_pwcnet_has_the_published_layout():
    state = PWCNet().state_dict()
    assert [(name, tuple(tensor.shape)) for name, tensor in state.items()] == pwc_layout()
    assert sum(tensor.numel() for tensor in state.values()) == 9_374_274  # the port's 9.37M parameters


def test_pwcnet_weights_load_strictly_with_and_without_prefix(tmp_path, pwc_state):
    bare, wrapped = tmp_path / "network-default.pytorch", tmp_path / "dataparallel.pytorch"
    torch.save(pwc_state, bare)
    torch.save({"module." + key: value for key, value in pwc_state.items()}, wrapped)
    for path in (bare, wrapped):
        network = build_network({"pwcnet": path})
        loaded = network.flownet.state_dict()
        assert all(torch.equal(loaded[key], value) for key, value in pwc_state.items())
        assert network.training  # ready to train
    fresh = build_network({})  # no starting weights: random
    assert not torch.equal(
        fresh.flownet.state_dict()["moduleRefiner.moduleMain.0.weight"], pwc_state["moduleRefiner.moduleMain.0.weight"]
    )


def test_a_foreign_pwcnet_checkpoint_is_refused_naming_the_keys(tmp_path, pwc_state):
    state = {
        key.replace("module", "net"): value for key, value in list(pwc_state.items())[:4]
    }  # the port's in-memory names
    state["moduleSix.moduleSix.0.weight"] = pwc_state["moduleSix.moduleSix.0.weight"]
    path = tmp_path / "renamed.pytorch"
    torch.save(state, path)
    with pytest.raises(MethodError) as error:
        build_network({"pwcnet": path})
    message = str(error.value)
    assert message.startswith(f"{path}: not a PWC-Net checkpoint") and "\n" not in message
    assert f"{len(pwc_state) - 1} missing keys (moduleExtractor.moduleFiv.0.bias, " in message
    assert (
        "4 unexpected keys (netExtractor.netOne.0.bias, netExtractor.netOne.0.weight, netExtractor.netOne.2.bias"
        in message
    )
    with pytest.raises(CheckpointError, match="no such file"):
        PWCNet.from_checkpoint(tmp_path / "absent.pytorch")


def test_cost_volume_matches_its_definition():
    generator = torch.Generator().manual_seed(1)
    first, second = torch.randn(2, 2, 5, 7, 6, generator=generator, dtype=torch.float64)
    volume = correlation(first, second)
    assert volume.shape == (2, 81, 7, 6)
    for dy in range(-4, 5):
        for dx in range(-4, 5):
            expected = torch.zeros(2, 7, 6, dtype=torch.float64)
            for y in range(7):
                for x in range(6):
                    if 0 <= y + dy < 7 and 0 <= x + dx < 6:
                        expected[:, y, x] = (first[:, :, y, x] * second[:, :, y + dy, x + dx]).mean(1)
            torch.testing.assert_close(volume[:, (dy + 4) * 9 + dx + 4], expected)


def test_backward_warping_drops_samples_reaching_outside():
    image = torch.arange(20.0).view(1, 1, 4, 5) + 1
    flow = torch.zeros(1, 2, 4, 5)
    flow[:, 0] = 1.0  # sample one pixel to the right
    warped = backwarp_inside(image, flow)
    torch.testing.assert_close(warped[..., :4], image[..., 1:])
    assert torch.count_nonzero(warped[..., 4]) == 0
    flow[:, 0] = 0.5
    assert torch.count_nonzero(backwarp_inside(image, flow)[..., 4]) == 0  # half outside: dropped too


def test_flow_is_estimated_at_a_multiple_of_64_and_scaled_back():
    network = PWCNet()
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.zero_()
        network.moduleRefiner.moduleMain[12].bias.copy_(torch.tensor([0.5, -0.25]))  # flow / 20 everywhere
        flow = network.flow(torch.rand(1, 3, 70, 100), torch.rand(1, 3, 70, 100))  # run at 128x128
    assert flow.shape == (1, 2, 70, 100)
    torch.testing.assert_close(flow[:, 0], torch.full((1, 70, 100), 10.0 * 100 / 128))
    torch.testing.assert_close(flow[:, 1], torch.full((1, 70, 100), -5.0 * 70 / 128))


@pytest.mark.parametrize("mode", ["avg", "linear"])
def test_splatting_gradcheck_float64_for_the_other_modes(mode):
    """tests/test_splatting.py checks values and gradients of every mode against a per-pixel
    reference and gradchecks 'sum' and 'soft'; here the finite-difference check of the other two."""
    generator = torch.Generator().manual_seed(2)
    input = torch.randn(1, 2, 5, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    flow = ((torch.rand(1, 2, 5, 5, generator=generator, dtype=torch.float64) - 0.5) * 3).requires_grad_()
    metric = (
        torch.rand(1, 1, 5, 5, generator=generator, dtype=torch.float64) + 0.5
    ).requires_grad_()  # positive weights
    assert torch.autograd.gradcheck(lambda i, f, m: softsplat(i, f, m, mode), (input, flow, metric))


def test_the_visible_pixel_wins_where_splatted_pixels_meet():
    """A square moves 4 px right over a still background. Splatted to frame 1, the square lands on
    background pixels that stay put; brightness constancy gives those (occluded in frame 1) a low
    importance, so softmax splatting keeps the square where averaging would blend the two."""
    background, square = 0.2, 0.9
    frame0 = torch.full((1, 3, 8, 32), background)
    frame1 = frame0.clone()
    frame0[..., 10:20] = square
    frame1[..., 14:24] = square
    flow = torch.zeros(1, 2, 8, 32)
    flow[:, 0, :, 10:20] = 4.0
    metric = ImportanceMetric()
    importance = metric(frame0, frame1, flow)
    assert importance[..., 10:20].abs().max() == 0 and importance[..., 20:24].max() < -10  # occluded in frame 1
    soft = softsplat(frame0, flow, importance, mode="soft")
    averaged = softsplat(frame0, flow, mode="avg")
    torch.testing.assert_close(soft[..., 20:24], torch.full_like(soft[..., 20:24], square), atol=1e-5, rtol=0)
    torch.testing.assert_close(averaged[..., 20:24], torch.full_like(averaged[..., 20:24], (square + background) / 2))
    torch.testing.assert_close(soft[..., 14:], frame1[..., 14:], atol=1e-5, rtol=0)
    assert torch.count_nonzero(soft[..., 10:14]) == 0  # the background revealed in frame 1: a hole, nothing landed
    soft.sum().backward()
    assert metric.alpha.grad is not None and metric.alpha.grad != 0  # the scale is learned


def moving_square_batch(size: int = 64, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Triplets of flat colours with a square moving 4 px per frame: frames 1, 2 (the truth) and 3."""
    generator = torch.Generator().manual_seed(3)
    frames = torch.rand(batch, 3, 1, 1, 1, generator=generator).expand(batch, 3, 3, size, size).clone()
    colour = torch.rand(batch, 3, 1, 1, generator=generator)
    for n in range(3):
        frames[:, :, n, 20:40, 16 + 4 * n : 36 + 4 * n] = colour
    return frames[:, :, 0], frames[:, :, 1], frames[:, :, 2]


def test_forward_on_odd_sizes_through_the_harness_padding():
    torch.manual_seed(0)
    network = SoftSplat().eval()
    frame1, frame3 = torch.rand(2, 1, 3, 45, 67)
    (padded1, padded3, _, _), restore = fit_inputs(METHOD.fit, [frame1, frame3, None, None], [False, False, True, True])
    assert padded1.shape[-2:] == (48, 68)
    with torch.inference_mode():
        middle = restore(network(padded1, padded3, None))
    assert middle.shape == (1, 3, 45, 67) and torch.isfinite(middle).all()
    with pytest.raises(ValueError, match="divisible by 4, got 67x45"):
        network(frame1, frame3)
    assert METHOD.facts()["padding"] == "pad right/bottom to a multiple of 4 (replicate), output cropped back"


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_forward_runs_under_half_precision_autocast(dtype):
    """The --fp16 path (autocast) on the CPU: half-precision convolutions meet fp32 splatting and sampling."""
    torch.manual_seed(0)
    network = SoftSplat().eval()
    frame1, _, frame3 = moving_square_batch(batch=1)
    with torch.inference_mode():
        expected = network(frame1, frame3)
        with torch.autocast("cpu", dtype=dtype):
            out = network(frame1, frame3)
    assert out.shape == expected.shape and torch.isfinite(out).all()
    assert (out.float() - expected).abs().mean() < 0.05


def test_one_training_step_lowers_the_l1_loss():
    torch.manual_seed(0)
    network = METHOD.trainable.build({}).train()
    frame1, truth, frame3 = moving_square_batch()
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-4)
    loss = (network(frame1, frame3, None) - truth).abs().mean()
    optimiser.zero_grad()
    loss.backward()
    assert all(p.grad is not None for p in network.parameters())  # PWC-Net and the metric's scale train too
    optimiser.step()
    with torch.no_grad():
        after = (network(frame1, frame3, None) - truth).abs().mean()
    assert after < loss.item() - 1e-3, (loss.item(), after.item())


def test_listed_with_where_to_get_its_weights(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # one table row per line
    result = run_cli("bench", "--list")
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stderr.splitlines() if "│ softsplat " in line)
    assert "softsplat.pt: missing (get it from an `atdkit train --method softsplat` run (RUN_DIR/best.pt)" in row
    assert "pad right/bottom to a multiple of 4" in row


def trained_checkpoint(path, weights_key="softsplat", method="softsplat", state=None):
    torch.save(
        {
            TRAINING: {
                "method": method,
                "weights_key": weights_key,
                "steps": 3,
                "epochs": 1,
                "dataset": "/data/atd",
                "dataset_fingerprint": "f" * 32,
                "best_val_psnr": 21.5,
            },
            "model_state_dict": state if state is not None else SoftSplat().state_dict(),
        },
        path,
    )
    return path


@pytest.mark.slow
def test_a_trained_checkpoint_is_scored_by_the_benchmark(tmp_path):
    torch.manual_seed(0)
    checkpoint = trained_checkpoint(tmp_path / "best.pt")
    paths = methods.resolve_weights(METHOD, {"softsplat": checkpoint})
    network = METHOD.load(paths, torch.device("cpu"))
    assert not network.training
    frame1, _, frame3 = moving_square_batch(batch=1)
    with torch.inference_mode():
        assert network(frame1, frame3, None).shape == (1, 3, 64, 64)

    root = tmp_path / "ds"  # one 960x540 triplet, scored at 320x180 (--size) to keep the test quick
    frames = cartoon_triplet(np.random.default_rng(4))
    for n, image in enumerate(frames, 1):
        write_png(root / "frames" / "clip_000000_i0" / f"frame{n}.png", image)
    write_table(
        root / "triplets.parquet",
        [
            {
                "triplet_id": "clip_000000_i0",
                "source_id": "clip",
                "series": None,
                "frames": [0, 1, 2],
                "interval": 0,
                "timestamps": [0.0, 0.1, 0.2],
                "ssim_12": 0.8,
                "ssim_13": 0.7,
                "ssim_23": 0.8,
                "width": 960,
                "height": 540,
            }
        ],
        schema.TRIPLETS,
    )
    report = run_bench(
        root, ["softsplat"], tmp_path / "r", size=(320, 180), device="cpu", weights={"softsplat": checkpoint}
    )
    assert report.failed == 0
    rows = pq.read_table(tmp_path / "r" / "per_triplet.parquet").to_pandas()
    assert list(rows["status"]) == ["ok"] and np.isfinite(rows["psnr"]).all()
    run = json.loads((tmp_path / "r" / "run.json").read_text())["methods"]["softsplat"]
    assert run["padding"] == METHOD.fit.describe()
    trained = run["weights"]["softsplat"]["trained"]
    assert (trained["method"], trained["steps"], trained["dataset_fingerprint"]) == ("softsplat", 3, "f" * 32)


def test_checkpoints_of_other_networks_are_refused_in_one_line(tmp_path, pwc_state):
    other = trained_checkpoint(
        tmp_path / "animeinterp.pt", weights_key="animeinterp", method="animeinterp", state={"x": torch.zeros(1)}
    )
    with pytest.raises(MethodError) as error:
        methods.resolve_weights(METHOD, {"softsplat": other})
    assert str(error.value) == (
        f"{other}: a checkpoint of method 'animeinterp' (animeinterp network) made by atdkit train, not softsplat.pt"
    )
    public = tmp_path / "network-default.pytorch"  # PWC-Net alone is where training starts, not a SoftSplat network
    torch.save(pwc_state, public)
    with pytest.raises(
        MethodError,
        match=r"network-default.pytorch: not a checkpoint written by atdkit train \(no atdkit_training entry\)$",
    ):
        METHOD.load(methods.resolve_weights(METHOD, {"softsplat": public}), torch.device("cpu"))
    state = SoftSplat().state_dict()
    del state["metric.alpha"]
    partial = trained_checkpoint(tmp_path / "partial.pt", state=state)
    with pytest.raises(MethodError, match=r"partial.pt: not a softsplat network: 1 missing keys \(metric.alpha\)$"):
        METHOD.load({"softsplat": partial}, torch.device("cpu"))
