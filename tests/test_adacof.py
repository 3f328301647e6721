"""AdaCoF: the rewritten warp against a per-pixel loop (values and gradients), the release's checkpoint
layout, strict and safe loading, what the heads' outputs mean on real frames, a training step,
and the benchmark method through ``atdkit bench``'s own path, on CPU.

Checkpoints are synthesised from the release's layout (HyeongminLEE/AdaCoF-pytorch,
``models/adacofnet.py``, written out below) with seeded random values, and saved the way its
trainer.py saves them: ``{'epoch', 'state_dict'}``, in the legacy serialisation of the PyTorch
1.2 it was released with.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from atdkit.benchmark import methods
from atdkit.benchmark.checkpoint import TRAINING, CheckpointError
from atdkit.benchmark.harness import fit_inputs, run_bench
from atdkit.benchmark.methods import MethodError, Padding
from atdkit.benchmark.methods.adacof import METHOD, AdaCoFNet, adacof
from atdkit.benchmark.training import Trainer
from atdkit.benchmark.training.schedule import Schedule
from helpers import check_odd_sizes_through_padding, shared, tiny_atd_layout

# --- the warp against a literal per-pixel reading of the release's CUDA kernels ----------------------


def loop_reference(image, weights, alpha, beta, dilation, grad_output):
    """Output and gradients (input, weights, alpha, beta) of AdaCoF, pixel by pixel in float64, as the
    release's kernels compute them: C's (int) truncation, each index clamped on its own; the input's
    gradient, which the release never computed, by the same weights scattered back."""
    image, weights, alpha, beta, grad_output = (t.double().numpy() for t in (image, weights, alpha, beta, grad_output))
    batch, channels, padded_height, padded_width = image.shape
    taps, height, width = weights.shape[1:]
    size = math.isqrt(taps)
    output = np.zeros((batch, channels, height, width))
    grad_image, grad_weights, grad_alpha, grad_beta = (np.zeros_like(a) for a in (image, weights, alpha, beta))

    def clamp(value, limit):
        return min(max(value, 0), limit - 1)

    for b in range(batch):
        for i in range(height):
            for j in range(width):
                for k in range(size):
                    for l in range(size):  # noqa: E741 (the kernel's name)
                        tap = k * size + l
                        w, a, be = weights[b, tap, i, j], alpha[b, tap, i, j], beta[b, tap, i, j]
                        whole_a, whole_b = int(a), int(be)  # truncation toward zero, as (int) in C
                        fa, fb = a - whole_a, be - whole_b
                        top, bottom = (clamp(i + k * dilation + whole_a + n, padded_height) for n in (0, 1))
                        left, right = (clamp(j + l * dilation + whole_b + n, padded_width) for n in (0, 1))
                        corners = [
                            (top, left, (1 - fa) * (1 - fb)),
                            (bottom, left, fa * (1 - fb)),
                            (top, right, (1 - fa) * fb),
                            (bottom, right, fa * fb),
                        ]
                        for c in range(channels):
                            p00, p10, p01, p11 = (image[b, c, y, x] for y, x, _ in corners)
                            sample = sum(coefficient * image[b, c, y, x] for y, x, coefficient in corners)
                            output[b, c, i, j] += w * sample
                            g = grad_output[b, c, i, j]
                            grad_weights[b, tap, i, j] += g * sample
                            grad_alpha[b, tap, i, j] += g * w * ((p10 - p00) * (1 - fb) + (p11 - p01) * fb)
                            grad_beta[b, tap, i, j] += g * w * ((p01 - p00) * (1 - fa) + (p11 - p10) * fa)
                            for y, x, coefficient in corners:
                                grad_image[b, c, y, x] += g * w * coefficient
    return [torch.from_numpy(a) for a in (output, grad_image, grad_weights, grad_alpha, grad_beta)]


@pytest.mark.parametrize("size, dilation", [(3, 2), (5, 1)])
def test_warp_matches_the_per_pixel_loop_in_values_and_gradients(size, dilation):
    generator = torch.Generator().manual_seed(size)
    height, width, taps = 4, 5, size * size
    image = torch.rand(2, 3, height + (size - 1) * dilation, width + (size - 1) * dilation, generator=generator)
    weights = torch.softmax(torch.randn(2, taps, height, width, generator=generator), dim=1)
    alpha, beta = (1.5 * torch.randn(2, taps, height, width, generator=generator) for _ in range(2))
    alpha[0, :, 0, 0] = -1.0  # whole negative offsets: where truncation and flooring agree again
    beta[0, :, 1, 1] = -2.0
    alpha[1, :, 2, 2], beta[1, :, 3, 3] = 9.3, -8.6  # far outside the frame: every index clamped
    grad_output = torch.randn(2, 3, height, width, generator=generator)
    inputs = [t.clone().requires_grad_() for t in (image, weights, alpha, beta)]
    output = adacof(*inputs, dilation)
    output.backward(grad_output)
    expected = loop_reference(image, weights, alpha, beta, dilation, grad_output)
    torch.testing.assert_close(output.double(), expected[0], rtol=1e-5, atol=1e-5)
    for tensor, want in zip(inputs, expected[1:]):
        torch.testing.assert_close(tensor.grad.double(), want, rtol=1e-5, atol=1e-5)


def test_a_negative_fraction_extrapolates_from_the_next_pixel():
    """The release's sampling: offset -0.25 gives 1.25 I[p] - 0.25 I[p+1], not 0.75 I[p] + 0.25 I[p-1]."""
    image = torch.tensor([0.0, 0.0, 1.0, 1.0]).view(1, 1, 4, 1)  # a step between rows 1 and 2
    one_tap = torch.ones(1, 1, 4, 1)
    warped = adacof(image, one_tap, torch.full((1, 1, 4, 1), -0.25), torch.zeros(1, 1, 4, 1), 1)
    torch.testing.assert_close(warped.flatten(), torch.tensor([0.0, -0.25, 1.0, 1.0]))
    with pytest.raises(ValueError, match="input padded by"):
        adacof(image, one_tap.expand(1, 4, 4, 1), one_tap, one_tap, 1)


# --- the release's checkpoint ---------------------------------------------------------------------------

BLOCKS = [  # the release's Basic(in, out) blocks, in registration order: convolutions at 0, 2, 4
    ("moduleConv1", 6, 32),
    ("moduleConv2", 32, 64),
    ("moduleConv3", 64, 128),
    ("moduleConv4", 128, 256),
    ("moduleConv5", 256, 512),
    ("moduleDeconv5", 512, 512),
    ("moduleDeconv4", 512, 256),
    ("moduleDeconv3", 256, 128),
    ("moduleDeconv2", 128, 64),
]


def release_layout(kernel_size: int = 5) -> list[tuple[str, tuple[int, ...]]]:
    """Names and shapes of ``AdaCoFNet(args).state_dict()`` in the release, in order."""

    def conv(name, out, inp):
        return [(f"get_kernel.{name}.weight", (out, inp, 3, 3)), (f"get_kernel.{name}.bias", (out,))]

    layout = []
    for name, inp, out in BLOCKS:
        layout += conv(f"{name}.0", out, inp) + conv(f"{name}.2", out, out) + conv(f"{name}.4", out, out)
        if name.startswith("moduleDeconv"):  # Upsample(channels): bilinear x2, then a convolution at 1
            layout += conv(f"moduleUpsample{name[-1]}.1", out, out)
    taps = kernel_size**2
    for name in ("Weight1", "Alpha1", "Beta1", "Weight2", "Alpha2", "Beta2"):  # Subnet_weight / Subnet_offset
        layout += conv(f"module{name}.0", 64, 64) + conv(f"module{name}.2", 64, 64)
        layout += conv(f"module{name}.4", taps, 64) + conv(f"module{name}.7", taps, taps)
    layout += conv("moduleOcclusion.0", 64, 64) + conv("moduleOcclusion.2", 64, 64)
    return layout + conv("moduleOcclusion.4", 64, 64) + conv("moduleOcclusion.7", 1, 64)


def random_state(kernel_size: int = 5, seed: int = 0) -> dict[str, torch.Tensor]:
    """Seeded He-scaled weights (activations neither vanish nor explode through the U-Net)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in release_layout(kernel_size):
        scale = (2 / math.prod(shape[1:])) ** 0.5 if len(shape) == 4 else 0.1
        state[name] = scale * torch.randn(shape, generator=generator)
    return state


def save_release(state: dict, path) -> None:
    """As the release's trainer.py saves, in PyTorch 1.2's (legacy) serialisation."""
    torch.save({"epoch": 50, "state_dict": state}, path, _use_new_zipfile_serialization=False)


@pytest.fixture(scope="module")
def official_state() -> dict[str, torch.Tensor]:
    return random_state()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, official_state):
    path = tmp_path_factory.mktemp("adacof") / "ckpt.pth"
    save_release(official_state, path)
    return path


def test_layout_is_the_releases():
    state = AdaCoFNet().state_dict()
    assert [(name, tuple(t.shape)) for name, t in state.items()] == release_layout()
    assert sum(t.numel() for t in state.values()) == 21_843_427


def test_the_released_checkpoint_loads_strictly(checkpoint, official_state):
    model = AdaCoFNet.from_checkpoint(checkpoint)
    assert not model.training
    assert all(torch.equal(model.state_dict()[name], tensor) for name, tensor in official_state.items())
    assert methods.resolve_weights(METHOD, {"adacof": checkpoint}) == {"adacof": checkpoint}


def test_other_checkpoints_are_refused_in_one_line_naming_what_differs(tmp_path, official_state):
    wider = tmp_path / "kernelsize_11.pth"  # the release's other model: F=11, 121 taps
    save_release(random_state(11), wider)
    with pytest.raises(CheckpointError) as error:
        AdaCoFNet.from_checkpoint(wider)
    message = str(error.value)
    assert message.startswith(f"{wider}: not an AdaCoF F=5 D=1 checkpoint (checkpoint/kernelsize_5/ckpt.pth")
    assert "\n" not in message and "24 tensors of the wrong shape" in message
    assert "get_kernel.moduleAlpha1.4.bias (121,) instead of (25,)" in message
    renamed = dict(official_state)
    renamed["module.get_kernel.moduleOcclusion.7.bias"] = renamed.pop("get_kernel.moduleOcclusion.7.bias")
    renamed["get_kernel.moduleOcclusion.8.weight"] = renamed.pop("get_kernel.moduleOcclusion.7.weight")
    save_release(renamed, tmp_path / "renamed.pth")
    with pytest.raises(
        MethodError,
        match=r"renamed.pth: not an AdaCoF .*: 1 missing keys \(get_kernel.moduleOcclusion.7.weight\); "
        r"1 unexpected keys \(get_kernel.moduleOcclusion.8.weight\)$",
    ):
        METHOD.load({"adacof": tmp_path / "renamed.pth"}, torch.device("cpu"))
    bare = tmp_path / "bare.pth"  # the state dict alone, without the release's container
    torch.save(official_state, bare)
    with pytest.raises(CheckpointError, match="bare.pth: not an AdaCoF F=5 D=1 .*: it has no state_dict entry"):
        AdaCoFNet.from_checkpoint(bare)
    with pytest.raises(MethodError, match="bare.pth: checkpoint lacks state_dict: not adacof_kernelsize_5.pth"):
        methods.resolve_weights(METHOD, {"adacof": bare})


# --- what the heads' outputs mean, on a real frame pair -------------------------------------------------


@pytest.fixture(scope="module")
def real_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """A 96x64 crop of a real anime keyframe pair, RGB in [0, 1]."""
    frames = []
    for name in ("sakura_panel_033.png", "sakura_panel_039.png"):
        image = np.asarray(Image.open(shared("pairs", "anime_keyframes_640x540", name)).convert("RGB"))
        frames.append(torch.from_numpy(image[200:264, 250:346].astype(np.float32) / 255).permute(2, 0, 1)[None])
    return frames[0], frames[1]


def constant_heads(tap: int, alpha: float = 0.0, beta: float = 0.0, occlusion: float = 30.0) -> AdaCoFNet:
    """A network whose heads output constants: all weight on ``tap`` (both frames), the given offsets, and the
    occlusion map's logit (+30: frame0 alone, -30: frame2 alone)."""
    network = AdaCoFNet().eval()
    kernels = network.get_kernel
    with torch.no_grad():
        for head in (kernels.moduleWeight1, kernels.moduleWeight2):
            head[7].weight.zero_()
            head[7].bias.fill_(-60.0)[tap] = 60.0  # softmax: exp(-120) elsewhere
        offsets = [(kernels.moduleAlpha1, alpha), (kernels.moduleBeta1, beta), (kernels.moduleAlpha2, alpha)]
        for head, value in [*offsets, (kernels.moduleBeta2, beta), (kernels.moduleOcclusion, occlusion)]:
            head[7].weight.zero_()
            head[7].bias.fill_(value)
    return network


def test_heads_place_taps_and_offsets_on_real_frames(real_pair):
    frame0, frame2 = real_pair
    with torch.no_grad():
        # the centre tap (k = l = 2 of 5x5), no offsets, frame0 fully visible: frame0 itself
        torch.testing.assert_close(constant_heads(12)(frame0, frame2), frame0, atol=1e-6, rtol=0)
        # occlusion logit -30: frame2 alone
        torch.testing.assert_close(constant_heads(12, occlusion=-30.0)(frame0, frame2), frame2, atol=1e-6, rtol=0)
        # tap (0, 0) reads 2 rows up and 2 columns left: the replicate-padded frame shifted
        corner = constant_heads(0)(frame0, frame2)
        # the centre tap moved by alpha = 1 and beta = -3: it reads one row below and three columns to the left
        moved = constant_heads(12, alpha=1.0, beta=-3.0)(frame0, frame2)
    padded = torch.nn.functional.pad(frame0, [2, 2, 2, 2], mode="replicate")
    torch.testing.assert_close(corner, padded[..., :64, :96], atol=1e-6, rtol=0)
    torch.testing.assert_close(moved[..., :-1, 3:], frame0[..., 1:, :-3], atol=1e-6, rtol=0)


def test_forward_on_a_real_crop_and_odd_sizes_through_the_benchmark_padding(checkpoint, real_pair):
    model = AdaCoFNet.from_checkpoint(checkpoint)
    check_odd_sizes_through_padding(model, METHOD.fit)
    frame0, frame2 = real_pair
    (padded0, padded2), restore = fit_inputs(METHOD.fit, [frame0[..., :50, :90], frame2[..., :50, :90]], [False] * 2)
    torch.testing.assert_close(padded0[..., 50:, :], padded0[..., 35:49, :].flip(-2))  # reflected, as the release pads
    with torch.no_grad():
        middle = restore(METHOD.load({"adacof": checkpoint}, torch.device("cpu"))(padded0, padded2, None))
        heads = model.get_kernel(padded0, padded2)
    assert middle.shape == (1, 3, 50, 90) and torch.isfinite(middle).all()
    assert 0.1 < float(heads[1].abs().mean()) < 20  # the random weights move the taps by some pixels
    torch.testing.assert_close(heads[0].sum(1), torch.ones(1, 64, 96))  # softmax over the 25 taps


# --- training --------------------------------------------------------------------------------------------


def test_a_training_step_from_the_released_weights_reaches_every_head(checkpoint, official_state, real_pair):
    network = METHOD.trainable.build({"adacof": checkpoint})
    assert network.training
    assert torch.equal(network.get_kernel.moduleConv1[0].weight, official_state["get_kernel.moduleConv1.0.weight"])
    frame0, frame2 = real_pair
    frames = torch.stack([frame0[0], (frame0[0] + frame2[0]) / 2, frame2[0]])[None]
    batch = {"frames": (frames * 255).round().to(torch.uint8)}
    trainer = Trainer(METHOD, network, torch.device("cpu"), 1e-4, Schedule("constant"), amp=False)
    before = {name: tensor.clone() for name, tensor in network.state_dict().items()}
    loss = float(trainer.step(batch))
    assert math.isfinite(loss) and loss > 0
    for name in ("Weight1", "Alpha1", "Beta1", "Weight2", "Alpha2", "Beta2", "Occlusion"):
        key = f"get_kernel.module{name}.7.weight"
        assert not torch.equal(network.state_dict()[key], before[key]), key
    assert isinstance(METHOD.trainable.build({}), AdaCoFNet)  # from scratch: random weights


def test_an_atdkit_train_checkpoint_loads_back(tmp_path):
    torch.manual_seed(1)
    network = AdaCoFNet()
    path = tmp_path / "best.pt"
    info = {"method": "adacof", "weights_key": "adacof", "steps": 3, "dataset_fingerprint": "0" * 32}
    torch.save({TRAINING: info, "model_state_dict": network.state_dict()}, path)
    assert methods.resolve_weights(METHOD, {"adacof": path}) == {"adacof": path}
    loaded = methods.load_trained(METHOD, path, torch.device("cpu"))
    assert all(torch.equal(loaded.state_dict()[name], tensor) for name, tensor in network.state_dict().items())
    other = tmp_path / "rife.pt"
    torch.save({TRAINING: {**info, "method": "rife", "weights_key": "rife"}, "model_state_dict": {}}, other)
    with pytest.raises(CheckpointError, match=r"rife.pt: a checkpoint of method 'rife' .* not an AdaCoF network"):
        AdaCoFNet.from_checkpoint(other)


# --- the benchmark --------------------------------------------------------------------------------------


def test_bench_scores_it_with_the_released_checkpoint(tmp_path, checkpoint, monkeypatch, capsys):
    from atdkit.cli import main

    monkeypatch.setenv("COLUMNS", "1000")
    monkeypatch.setenv("ATDKIT_WEIGHTS", str(tmp_path))
    assert main(["bench", "--list"]) == 0
    row = next(line for line in capsys.readouterr().err.splitlines() if " adacof " in line)
    assert "adacof_kernelsize_5.pth: missing (get it from github.com/HyeongminLEE/AdaCoF-pytorch" in row
    tiny_atd_layout(tmp_path / "atd", 1)
    run_bench(
        tmp_path / "atd", ["adacof"], tmp_path / "r", size=(320, 180), device="cpu", weights={"adacof": checkpoint}
    )
    rows = pq.read_table(tmp_path / "r" / "per_triplet.parquet").to_pandas()
    assert list(rows["status"]) == ["ok"] and math.isfinite(rows["psnr"][0])
    facts = json.loads((tmp_path / "r" / "run.json").read_text())["methods"]["adacof"]
    assert facts["padding"] == Padding(32, "reflect").describe()
    assert "means subtracted inside" in facts["summary"]
    assert facts["weights"]["adacof"]["sha256"] == methods.sha256(checkpoint)
