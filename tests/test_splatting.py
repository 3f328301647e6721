"""benchmark.ops.softsplat against a naive per-pixel reference: values, holes and gradients."""

from __future__ import annotations

import math

import pytest
import torch

from atdkit.benchmark.ops import softsplat
from atdkit.benchmark.ops.splatting import MODES, splat_sum


def naive_softsplat(input, flow, metric, mode):
    """The definition, one source pixel and one corner at a time (autograd follows the Python loops)."""
    batch, channels, height, width = input.shape
    sums = [
        [[[input.new_zeros(()) for _ in range(width)] for _ in range(height)] for _ in range(channels + 1)]
        for _ in range(batch)
    ]
    for n in range(batch):
        for y in range(height):
            for x in range(width):
                tx, ty = x + flow[n, 0, y, x], y + flow[n, 1, y, x]
                x0, y0 = math.floor(tx.item()), math.floor(ty.item())
                if mode in ("sum", "avg"):
                    importance = input.new_ones(())
                elif mode == "linear":
                    importance = metric[n, 0, y, x]
                else:
                    importance = torch.exp(metric[n, 0, y, x])
                for cx, cy in ((x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1)):
                    if 0 <= cx < width and 0 <= cy < height:
                        weight = (1 - torch.abs(tx - cx)) * (1 - torch.abs(ty - cy)) * importance
                        for c in range(channels):
                            sums[n][c][cy][cx] = sums[n][c][cy][cx] + weight * input[n, c, y, x]
                        sums[n][channels][cy][cx] = sums[n][channels][cy][cx] + weight
    out = torch.stack(
        [torch.stack([torch.stack([torch.stack(row) for row in plane]) for plane in sample]) for sample in sums]
    )
    if mode == "sum":
        return out[:, :channels]
    total = out[:, channels:]
    landed = total != 0
    return torch.where(
        landed, out[:, :channels] / torch.where(landed, total, torch.ones_like(total)), torch.zeros_like(total)
    )


def random_case(seed: int, batch=2, channels=3, height=6, width=7, spread=3.0):
    generator = torch.Generator().manual_seed(seed)
    input = torch.randn(batch, channels, height, width, generator=generator, dtype=torch.float64)
    flow = (torch.rand(batch, 2, height, width, generator=generator, dtype=torch.float64) - 0.5) * 2 * spread
    metric = torch.randn(batch, 1, height, width, generator=generator, dtype=torch.float64)
    return input, flow, metric


@pytest.mark.parametrize("mode", ["sum", "avg", "linear", "soft"])
def test_values_and_gradients_match_the_per_pixel_definition(mode):
    input, flow, metric = random_case(seed=1)
    tensors = [t.clone().requires_grad_() for t in (input, flow, metric)]
    reference = [t.clone().requires_grad_() for t in (input, flow, metric)]
    out = softsplat(*tensors, mode=mode)
    expected = naive_softsplat(*reference, mode=mode)
    assert out.shape == input.shape
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)

    upstream = torch.randn(out.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    (out * upstream).sum().backward()
    (expected * upstream).sum().backward()
    used = 3 if mode in ("linear", "soft") else 2
    for name, mine, theirs in list(zip(("input", "flow", "metric"), tensors, reference))[:used]:
        torch.testing.assert_close(mine.grad, theirs.grad, rtol=1e-9, atol=1e-9, msg=f"gradient w.r.t. {name}")
        assert mine.grad.abs().sum() > 0


def test_gradcheck_float64():
    input, flow, metric = random_case(seed=2, batch=1, channels=2, height=5, width=5, spread=1.5)
    for mode in ("sum", "soft"):
        args = (input.requires_grad_(), flow.requires_grad_(), metric.requires_grad_())
        assert torch.autograd.gradcheck(lambda i, f, m: softsplat(i, f, m, mode), args)  # noqa: B023


def test_integer_shift_moves_the_image_and_leaves_zero_holes():
    image = torch.arange(2 * 5 * 6, dtype=torch.float32).view(1, 2, 5, 6) + 1
    flow = torch.zeros(1, 2, 5, 6)
    flow[:, 0], flow[:, 1] = 2, -1  # right 2, up 1
    for mode in ("sum", "avg"):
        out = softsplat(image, flow, mode=mode)
        assert torch.equal(out[:, :, :4, 2:], image[:, :, 1:, :4])
        assert torch.count_nonzero(out[:, :, 4:, :]) == 0 and torch.count_nonzero(out[:, :, :, :2]) == 0


def test_normalised_modes_average_what_lands_together():
    # two pixels land on the same spot: avg gives their mean, soft favours the larger metric
    image = torch.zeros(1, 1, 1, 4)
    image[0, 0, 0, 0], image[0, 0, 0, 1] = 10.0, 20.0
    flow = torch.zeros(1, 2, 1, 4)
    flow[0, 0, 0, 0] = 1.0  # pixel 0 onto pixel 1
    flow[0, 0, 0, 2:] = 10.0  # pixels 2, 3 leave the image
    metric = torch.tensor([[[[0.0, 50.0, 0.0, 0.0]]]])
    assert softsplat(image, flow, mode="avg")[0, 0, 0].tolist() == [0.0, 15.0, 0.0, 0.0]
    assert softsplat(image, flow, mode="sum")[0, 0, 0].tolist() == [0.0, 30.0, 0.0, 0.0]
    assert softsplat(image, flow, metric, mode="soft")[0, 0, 0, 1].item() == pytest.approx(20.0)
    assert softsplat(image, flow, metric + 1, mode="linear")[0, 0, 0, 1].item() == pytest.approx((10 + 20 * 51) / 52)


def test_large_soft_metrics_do_not_overflow():
    input, flow, metric = random_case(seed=3)
    out = softsplat(input.float(), flow.float(), metric.float() * 1000, mode="soft")
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("mode", MODES)
def test_half_precision_inputs_are_splatted_in_fp32(mode):
    """Under fp16 autocast features arrive in half precision and flows in fp32 (or the other way round)."""
    input, flow, metric = random_case(seed=6)
    metric = metric.abs() + 0.5  # positive weights: 'linear' is ill-conditioned where signed weights cancel
    expected = softsplat(input.float(), flow.float(), metric.float(), mode)
    for half_input, half_flow in ((True, False), (False, True)):
        out = softsplat(
            input.half() if half_input else input.float(),
            flow.half() if half_flow else flow.float(),
            metric.float(),
            mode,
        )
        assert out.dtype == torch.float32
        torch.testing.assert_close(out, expected, atol=0.02 * float(expected.abs().max()), rtol=0)


def test_bad_arguments_are_refused():
    input, flow, metric = random_case(seed=4)
    with pytest.raises(ValueError, match="unknown splatting mode"):
        softsplat(input, flow, metric, "max")
    with pytest.raises(ValueError, match="needs a metric"):
        softsplat(input, flow, None, "soft")
    with pytest.raises(ValueError, match="flow must have shape"):
        softsplat(input, flow[:, :, :-1], None, "sum")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
def test_cuda_matches_cpu():
    input, flow, metric = random_case(seed=5, height=32, width=40, spread=6)
    for mode in ("sum", "avg", "linear", "soft"):
        expected = softsplat(input, flow, metric, mode)
        torch.testing.assert_close(softsplat(input.cuda(), flow.cuda(), metric.cuda(), mode).cpu(), expected)


def test_the_sparse_product_adds_in_index_add_order():
    """Without gradients on the CPU the splat is a sparse product: the same sums, bit for bit, as index_add_."""
    generator = torch.Generator().manual_seed(5)
    values = torch.randn(2, 5, 40, 60, generator=generator)
    flow = (torch.rand(2, 2, 40, 60, generator=generator) - 0.5) * 30
    metric = torch.randn(2, 1, 40, 60, generator=generator)
    with torch.no_grad():
        product, soft_product = splat_sum(values, flow), softsplat(values, flow, metric, "soft")
    flow.requires_grad_()  # gradients wanted: index_add_
    assert torch.equal(product, splat_sum(values, flow).detach())
    assert torch.equal(soft_product, softsplat(values, flow, metric, "soft").detach())
