"""DAIN: the released best.pth's layout and strict loading, its rewritten CUDA layers against per-pixel loop
ports of the CUDA kernels (values and the kernels' own gradients), a forward on real frames whose result
is known, fine-tuning's gradients and atdkit-trained checkpoints, and the benchmark path.

The layout is pinned by the digest of the original network's state dict (``networks/DAIN.py`` of
baowenbo/DAIN at 7c727ac, built by ``python tools/speed/against_dain.py --repo CHECKOUT --layout``):
checkpoints are synthesised from it with seeded random values.
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from atdkit.benchmark.checkpoint import TRAINING, CheckpointError
from atdkit.benchmark.harness import run_bench
from atdkit.benchmark.methods import MethodError
from atdkit.benchmark.methods.dain import DAIN, METHOD
from atdkit.benchmark.methods.dain.adaptive_warp import adaptive_warp
from atdkit.benchmark.methods.dain.hourglass import Hourglass
from atdkit.benchmark.methods.dain.method import interpolate, padding
from atdkit.benchmark.methods.dain.projection import project_flow
from atdkit.benchmark.methods.dain.pwcnet import correlation, warp
from helpers import shared, tiny_atd_layout

LAYOUT_SHA256 = "bd1135cf9472773d0ecf9201e2548c08277703cb273c3d0e459141c5bb903a35"  # sorted "name (shape)" lines


def layout_digest(state: dict[str, torch.Tensor]) -> str:
    lines = "".join(f"{name} {tuple(tensor.shape)}\n" for name, tensor in sorted(state.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def released_layout() -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        return DAIN().state_dict()


def test_layout_is_the_released_one():
    state = released_layout()
    assert layout_digest(state) == LAYOUT_SHA256
    assert len(state) == 954 and sum(t.numel() for t in state.values()) == 24_045_955
    shapes = {
        "flownets.conv6aa.0.weight": (196, 128, 3, 3),  # NVlabs' PWC-DC names the strided level-6 layer "aa"
        "flownets.upfeat3.weight": (597, 2, 4, 4),
        "flownets.deconv2.weight": (2, 2, 4, 4),  # in the file, unused
        "depthNet.1.running_var": (128,),
        "depthNet.3.0.0.3.0.0.3.0.1.3.0.0.0.0.1.num_batches_tracked": (),  # the deepest hourglass stage
        "ctxNet.block3.conv1.weight": (64, 64, 3, 3),
        "initScaleNets_filter.32.weight": (16, 32, 3, 3),
        "initScaleNets_filter2.2.bias": (16,),
        "rectifyNet.block1.0.weight": (128, 437, 7, 7),
    }
    assert {name: tuple(state[name].shape) for name in shapes} == shapes


def synthesised(layout: dict[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, tensor in layout.items():
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(0)
        elif name.endswith("running_var"):
            state[name] = 0.5 + torch.rand(tensor.shape, generator=generator)
        else:
            state[name] = 0.03 * torch.randn(tensor.shape, generator=generator)
    return state


@pytest.fixture(scope="module")
def best_state() -> dict[str, torch.Tensor]:
    return synthesised(released_layout())


@pytest.fixture(scope="module")
def best(tmp_path_factory, best_state):
    path = tmp_path_factory.mktemp("dain") / "best.pth"
    torch.save(best_state, path)
    return path


def test_loads_strictly_and_refuses_other_files(tmp_path, best, best_state):
    network = DAIN.from_checkpoint(best)
    assert not network.training
    assert all(torch.equal(tensor, best_state[name]) for name, tensor in network.state_dict().items())
    megadepth = tmp_path / "best_generalization_net_G.pth"  # the depth network's file, also in DAIN's README
    torch.save({"module." + name: tensor for name, tensor in Hourglass().state_dict().items()}, megadepth)
    with pytest.raises(MethodError) as error:
        METHOD.load({"dain": megadepth}, torch.device("cpu"))
    message = str(error.value)
    assert (
        message.startswith(f"{megadepth}: not DAIN's best.pth (baowenbo/DAIN): 954 missing keys")
        and "\n" not in message
    )
    assert "779 unexpected keys (0.bias, 0.weight, 1.bias, 1.num_batches_tracked, 1.running_mean," in message
    state = dict(best_state)
    state["rectifyNet.block1.0.weight"] = torch.zeros(128, 441, 7, 7)
    del state["flownets.deconv2.bias"]
    torch.save(state, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match=r"1 missing keys \(flownets.deconv2.bias\); 1 tensors of the wrong shape "
                       r"\(rectifyNet.block1.0.weight \(128, 441, 7, 7\) instead of \(128, 437, 7, 7\)\)"):  # fmt: skip
        DAIN.from_checkpoint(tmp_path / "other.pth")


# --- the CUDA layers, as per-pixel loops ------------------------------------------------------------------------


def loop_projection(flow, weight, fill):
    """DepthFlowProjection's three CUDA kernels: splat, average, fill holes. Returns (output, count)."""
    _, _, height, width = flow.shape
    output, count = torch.zeros_like(flow), torch.zeros_like(weight)
    for b, h, w in np.ndindex(flow.shape[0], height, width):
        fx, fy = flow[b, 0, h, w], flow[b, 1, h, w]
        x2, y2 = w + fx, h + fy
        if 0 <= x2 <= width - 1 and 0 <= y2 <= height - 1:
            left, top = int(x2), int(y2)
            for row in (top, min(top + 1, height - 1)):
                for column in (left, min(left + 1, width - 1)):
                    output[b, :, row, column] -= weight[b, 0, h, w] * flow[b, :, h, w]
                    count[b, 0, row, column] += weight[b, 0, h, w]
    output = torch.where(count > 0, output / count.clamp(min=1e-30), output)
    filled = output.clone()
    for b, h, w in np.ndindex(flow.shape[0], height, width):
        if fill and count[b, 0, h, w] <= 0:
            found = []
            for dy, dx in ((0, -1), (0, 1), (-1, 0), (1, 0)):
                y, x = h, w
                while count[b, 0, y, x] == 0 and 0 <= y + dy < height and 0 <= x + dx < width:
                    y, x = y + dy, x + dx
                if count[b, 0, y, x] > 0:
                    found.append(output[b, :, y, x])
            if found:
                filled[b, :, h, w] = sum(found) / len(found)
    return filled, count


def loop_projection_backward(flow, weight, count, output, grad):
    """DepthFlowProjection's CUDA backward kernel."""
    grad_flow, grad_weight = torch.zeros_like(flow), torch.zeros_like(weight)
    _, _, height, width = flow.shape
    for b, h, w in np.ndindex(flow.shape[0], height, width):
        x2, y2 = w + flow[b, 0, h, w], h + flow[b, 1, h, w]
        if 0 <= x2 <= width - 1 and 0 <= y2 <= height - 1:
            left, top = int(x2), int(y2)
            for row in (top, min(top + 1, height - 1)):
                for column in (left, min(left + 1, width - 1)):
                    share = grad[b, :, row, column] / count[b, 0, row, column]
                    grad_flow[b, :, h, w] -= share * weight[b, 0, h, w]
                    grad_weight[b, 0, h, w] -= (share * (flow[b, :, h, w] - output[b, :, row, column])).sum()
    return grad_flow, grad_weight


def projection_case():
    generator = torch.Generator().manual_seed(3)
    flow = torch.randn(2, 2, 5, 6, generator=generator) * 1.5
    flow[0, :, 1, 3] = torch.tensor([2.0, 0.0])  # lands exactly on the last column: counted twice there
    flow[0, :, 0, 0] = torch.tensor([-0.5, 0.0])  # lands outside
    flow[1, :, 2, 1] = torch.tensor([0.25, 2.0])  # exactly on the last row
    weight = 1e-6 + torch.rand(2, 1, 5, 6, generator=generator)
    return flow, weight


def test_depth_flow_projection_matches_the_cuda_kernels():
    flow, weight = projection_case()
    for fill in (False, True):
        expected, count = loop_projection(flow, weight, fill)
        torch.testing.assert_close(project_flow(flow, weight, fill), expected, atol=1e-6, rtol=1e-5)
    assert (count == 0).any() and (count > 0).any()  # holes to fill, and pixels filling them
    assert torch.count_nonzero(expected[count.expand_as(expected) == 0]) > 0


def test_depth_flow_projection_has_the_cuda_gradients():
    flow, weight = projection_case()
    flow.requires_grad_(True), weight.requires_grad_(True)
    projected = project_flow(flow, weight, False)
    grad = torch.randn(projected.shape, generator=torch.Generator().manual_seed(4))
    found = torch.autograd.grad(projected, (flow, weight), grad)
    _, count = loop_projection(flow.detach(), weight.detach(), False)
    expected = loop_projection_backward(flow.detach(), weight.detach(), count, projected.detach(), grad)
    for a, b in zip(found, expected):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    # the flow's gradient is the exact one; the weight's is the kernel's (the exact one has + output)
    exact_flow = torch.autograd.grad(loop_projection(flow, weight.detach(), False)[0], flow, grad)[0]
    torch.testing.assert_close(found[0], exact_flow, atol=1e-5, rtol=1e-5)


def loop_adaptive_warp(image, flow, kernels):
    """FilterInterpolation's CUDA forward kernel (4x4 kernels)."""
    _, channels, height, width = image.shape
    output = image.clone()
    for b, h, w in np.ndindex(image.shape[0], height, width):
        fx, fy = float(flow[b, 0, h, w]), float(flow[b, 1, h, w])
        x2, y2 = w + fx, h + fy
        if not (0 <= x2 <= width - 1 and 0 <= y2 <= height - 1 and abs(fx) < width / 2 and abs(fy) < height / 2):
            continue
        left, top, alpha, beta = int(x2) - 1, int(y2) - 1, x2 - int(x2), y2 - int(y2)

        def quadrant(rows, columns, b=b, h=h, w=w, left=left, top=top):
            return sum(
                image[b, :, min(max(top + j, 0), height - 1), min(max(left + i, 0), width - 1)]
                * kernels[b, j * 4 + i, h, w]
                for j in rows
                for i in columns
            )

        tl, tr, bl, br = (quadrant(rows, columns) for rows in ((0, 1), (2, 3)) for columns in ((0, 1), (2, 3)))
        output[b, :, h, w] = (1 - alpha) * (1 - beta) * tl + alpha * (1 - beta) * tr
        output[b, :, h, w] += (1 - alpha) * beta * bl + alpha * beta * br
    return output


def loop_adaptive_warp_backward(image, flow, kernels, grad):
    """FilterInterpolation's CUDA backward kernel: image and kernels by the weighted sums, the flow by the
    bilinear weights; nothing where the output copied the input."""
    grads = [torch.zeros_like(image), torch.zeros_like(flow), torch.zeros_like(kernels)]
    _, channels, height, width = image.shape
    for b, h, w in np.ndindex(image.shape[0], height, width):
        fx, fy = float(flow[b, 0, h, w]), float(flow[b, 1, h, w])
        x2, y2 = w + fx, h + fy
        if not (0 <= x2 <= width - 1 and 0 <= y2 <= height - 1 and abs(fx) < width / 2 and abs(fy) < height / 2):
            continue
        left, top, alpha, beta = int(x2) - 1, int(y2) - 1, x2 - int(x2), y2 - int(y2)
        sums = {}
        for j, i in np.ndindex(4, 4):
            row, column = min(max(top + j, 0), height - 1), min(max(left + i, 0), width - 1)
            weight = (alpha if i >= 2 else 1 - alpha) * (beta if j >= 2 else 1 - beta)
            grads[0][b, :, row, column] += grad[b, :, h, w] * weight * kernels[b, j * 4 + i, h, w]
            grads[2][b, j * 4 + i, h, w] += (grad[b, :, h, w] * weight * image[b, :, row, column]).sum()
            quadrant = (j >= 2, i >= 2)
            sums[quadrant] = sums.get(quadrant, 0) + image[b, :, row, column] * kernels[b, j * 4 + i, h, w]
        tl, tr, bl, br = sums[False, False], sums[False, True], sums[True, False], sums[True, True]
        grads[1][b, 0, h, w] = (grad[b, :, h, w] * ((1 - beta) * (tr - tl) + beta * (br - bl))).sum()
        grads[1][b, 1, h, w] = (grad[b, :, h, w] * ((1 - alpha) * (bl - tl) + alpha * (br - tr))).sum()
    return grads


def warp_case():
    generator = torch.Generator().manual_seed(5)
    image = torch.rand(1, 2, 5, 6, generator=generator)
    flow = torch.randn(1, 2, 5, 6, generator=generator) * 1.7
    flow[0, :, 2, 0] = torch.tensor([3.2, 0.0])  # inside, but half the width or more: the input passes through
    flow[0, :, 4, 4] = torch.tensor([0.5, 0.5])  # leaves the image
    kernels = torch.randn(1, 16, 5, 6, generator=generator)
    return image, flow, kernels


def test_adaptive_warp_matches_the_cuda_kernel_and_its_gradients():
    image, flow, kernels = warp_case()
    expected = loop_adaptive_warp(image, flow, kernels)
    inputs = [tensor.clone().requires_grad_(True) for tensor in (image, flow, kernels)]
    found = adaptive_warp(*inputs)
    torch.testing.assert_close(found, expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(found[..., 2, 0], image[..., 2, 0])
    grad = torch.randn(found.shape, generator=torch.Generator().manual_seed(6))
    for a, b in zip(torch.autograd.grad(found, inputs, grad), loop_adaptive_warp_backward(image, flow, kernels, grad)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_pwcnet_correlation_and_warp():
    generator = torch.Generator().manual_seed(7)
    first, second = (torch.randn(1, 3, 4, 5, generator=generator, requires_grad=True) for _ in range(2))
    expected = torch.zeros(1, 81, 4, 5)
    for tj, ti, y, x in np.ndindex(9, 9, 4, 5):  # PWC-Net's kernel: channel (dy + 4) * 9 + dx + 4, zeros outside
        if 0 <= y + tj - 4 < 4 and 0 <= x + ti - 4 < 5:
            expected[0, tj * 9 + ti, y, x] = (first[0, :, y, x] * second[0, :, y + tj - 4, x + ti - 4]).mean()
    found = correlation(first, second)
    torch.testing.assert_close(found, expected)
    grad = torch.randn(found.shape, generator=generator)
    for a, b in zip(
        torch.autograd.grad(found, (first, second), grad), torch.autograd.grad(expected, (first, second), grad)
    ):
        torch.testing.assert_close(a, b)
    features = torch.arange(20.0).view(1, 1, 4, 5)
    shifted = warp(features, torch.tensor([1.0, 0.0]).view(1, 2, 1, 1).expand(1, 2, 4, 5))
    torch.testing.assert_close(shifted[..., :4], features[..., 1:])  # sampled one pixel right, exactly
    assert not shifted[..., 4].any()  # a sample past the edge is dropped
    half = warp(features, torch.full((1, 2, 4, 5), 0.5))
    torch.testing.assert_close(half[0, 0, :3, :4], (features[0, 0, :3, :4] + features[0, 0, 1:, 1:]) / 2)
    assert not half[0, 0, 3].any() and not half[0, 0, :, 4].any()  # partly outside: dropped


# --- the whole network ----------------------------------------------------------------------------------------


def test_padding_is_the_demos():
    assert (
        padding(960) == (32, 32) and padding(540) == (50, 50) and padding(128) == (32, 32) and padding(70) == (29, 29)
    )
    assert padding(75) == (26, 27)


def test_forward_on_real_frames_with_known_flows_and_kernels(best):
    """Flows forced to +2 px both ways at t (PWC-Net's outputs: its biases), identity kernels (tap (1, 1)), no
    residual: the result is the two frames' mean moved 2 px right, the frames' edge replicated."""
    network = DAIN.from_checkpoint(best)
    with torch.no_grad():
        for layer in (network.flownets.predict_flow2, network.flownets.dc_conv7, network.rectifyNet.block5[0]):
            layer.weight.zero_(), layer.bias.zero_()
        network.flownets.dc_conv7.bias[0] = 2 / (20 * 0.5)  # flow / 20, times t
        for head in (network.initScaleNets_filter1, network.initScaleNets_filter2):
            head[2].weight.zero_(), head[2].bias.zero_()
            head[2].bias[5] = 1.0
    triplet = shared("triplets", "ccvfi_dragon_1080p")
    frame1, frame3 = (
        torch.from_numpy(np.asarray(Image.open(triplet / name).convert("RGB"))[500:564, 900:996].copy())
        .permute(2, 0, 1)[None]
        .float()
        / 255
        for name in ("frame1.png", "frame3.png")
    )
    with torch.no_grad():
        middle = interpolate(network, frame1, frame3)
        padded = [torch.nn.functional.pad(frame, (16, 16, 32, 32), mode="replicate") for frame in (frame1, frame3)]
        outwards = network.flow(*padded)  # at 1/4 resolution, times 20 x t, upsampled: 2 px
        inverse_depth = torch.rand(outwards[:, :1].shape, generator=torch.Generator().manual_seed(8)) + 0.1
    mean = (frame1 + frame3) / 2
    expected = torch.cat([mean[..., :1], mean[..., :1], mean[..., :-2]], -1)
    assert middle.shape == (1, 3, 64, 96) and (frame1 - frame3).abs().mean() > 0.02
    torch.testing.assert_close(middle, expected, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(outwards, torch.tensor([2.0, 0.0]).view(1, 2, 1, 1).expand_as(outwards))
    back = project_flow(outwards, inverse_depth, fill=True)  # -2 px, the two leftmost columns filled from the right
    torch.testing.assert_close(back, -outwards)


@pytest.mark.slow
def test_bench_scores_it(tmp_path, best):
    tiny_atd_layout(tmp_path / "atd", 1)
    run_bench(tmp_path / "atd", ["dain"], tmp_path / "r", size=(96, 64), device="cpu", weights={"dain": best})
    rows = pq.read_table(tmp_path / "r" / "per_triplet.parquet").to_pandas()
    assert list(rows["status"]) == ["ok"] and all(math.isfinite(psnr) for psnr in rows["psnr"])
    facts = json.loads((tmp_path / "r" / "run.json").read_text())["methods"]["dain"]
    assert "multiple of 128" in facts["summary"] and facts["padding"] == "none"


@pytest.mark.slow  # a whole DAIN backward
def test_fine_tuning_reaches_every_used_weight_and_trained_checkpoints_load_back(tmp_path, best, best_state):
    network = METHOD.trainable.build({"dain": best})
    assert network.training and torch.equal(
        network.rectifyNet.block5[0].weight, best_state["rectifyNet.block5.0.weight"]
    )
    frame0, frame1, truth = torch.rand(3, 1, 3, 64, 64, generator=torch.Generator().manual_seed(9))
    torch.nn.functional.l1_loss(network(frame0, frame1)["frame"], truth).backward()
    unreached = [
        name for name, parameter in network.named_parameters() if parameter.grad is None or not parameter.grad.any()
    ]
    assert unreached == ["flownets.deconv2.weight", "flownets.deconv2.bias"]  # in the file, never used
    trained = tmp_path / "trained.pt"
    info = {"method": "dain", "weights_key": "dain", "steps": 1, "epochs": 1, "dataset": "/data", "best_val_psnr": 20.0}
    torch.save({TRAINING: info, "model_state_dict": best_state}, trained)
    assert torch.equal(DAIN.from_checkpoint(trained).ctxNet.block1[0].weight, best_state["ctxNet.block1.0.weight"])
    torch.save({TRAINING: {**info, "method": "rife", "weights_key": "rife"}, "model_state_dict": {}}, trained)
    with pytest.raises(CheckpointError, match="a checkpoint of method 'rife' .* not a DAIN network"):
        DAIN.from_checkpoint(trained)
