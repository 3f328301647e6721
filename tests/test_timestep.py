"""Any time t between the frames: each method declared ``any_timestep`` at t != 0.5, and ``atdkit interpolate
--times / --factor``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from atdkit.benchmark.methods import available
from helpers import SHAPES, cartoon, moving_square, one_error, read_png, run_cli, write_png


def as_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255


def load(name: str, weights: dict | None = None):
    return available()[name].load(weights or {}, torch.device("cpu"))


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(-10 * torch.log10(((a.clamp(0, 1) - b) ** 2).mean()))


def test_the_methods_that_take_any_time_say_so():
    for name in ("blend", "repeat", "dis-warp", "animeinterp", "animeinterp-nosgm", "animeinterp-norfr"):
        assert available()[name].any_timestep, name
    for name in ("softsplat", "superslomo"):
        assert available()[name].any_timestep, name


def test_blend_and_repeat_at_any_time():
    frame1, _, frame3 = moving_square(32, 48, batch=2)
    blend, repeat = load("blend"), load("repeat")
    assert torch.equal(blend(frame1, frame3, None), (frame1 + frame3) * 0.5)  # the benchmark's middle, as before
    torch.testing.assert_close(blend(frame1, frame3, None, t=0.25), 0.75 * frame1 + 0.25 * frame3)
    both = blend(frame1, frame3, None, t=torch.tensor([0.25, 0.75]))
    torch.testing.assert_close(both[1], 0.25 * frame1[1] + 0.75 * frame3[1])
    assert repeat(frame1, frame3, None) is frame1 and repeat(frame1, frame3, None, t=0.75) is frame3
    mixed = repeat(frame1, frame3, None, t=torch.tensor([0.25, 0.75]))
    assert torch.equal(mixed[0], frame1[0]) and torch.equal(mixed[1], frame3[1])


def test_dis_warp_puts_moving_shapes_where_they_are_at_t():
    """Shapes moving linearly: the frame at t = 0.25 (0.75) is closest to the drawing at 0.25 (0.75)."""
    first, last = as_tensor(cartoon(SHAPES, 0.0)), as_tensor(cartoon(SHAPES, 1.0))
    truth = {t: as_tensor(cartoon(SHAPES, t)) for t in (0.25, 0.5, 0.75)}
    dis_warp = load("dis-warp")
    made = dis_warp(first.expand(2, -1, -1, -1), last.expand(2, -1, -1, -1), None, t=torch.tensor([0.25, 0.75]))
    for frame, t in zip(made, (0.25, 0.75)):
        score = psnr(frame[None], truth[t])
        # ~29 dB, against ~18 dB for the drawing at 0.5 and for the time-weighted blend
        assert score > 26 and score > psnr(frame[None], truth[0.5]) + 8, (t, score)
        assert score > psnr((1 - t) * first + t * last, truth[t]) + 8, (t, score)
    torch.testing.assert_close(made[:1], dis_warp(first, last, None, t=0.25))  # a batch of times: each as alone


def test_animeinterp_splats_to_t_along_t_scaled_flows():
    """Eq. 9 with exact flows of a square moving 12 px: at t its splatted copy stands 12 t px on; times per frame."""
    from atdkit.benchmark.methods.animeinterp.model import AnimeInterp

    frame0, _, frame2 = moving_square(32, 48)  # the square at columns 10-25, then 22-37
    flow02, flow20 = torch.zeros(1, 2, 32, 48), torch.zeros(1, 2, 32, 48)
    flow02[:, 0, 8:24, 10:26], flow20[:, 0, 8:24, 22:38] = 12.0, -12.0
    torch.manual_seed(0)
    model = AnimeInterp().eval()
    colour = frame0[0, :, 8, 10]
    with torch.inference_mode():
        for t in (0.25, 0.75):
            frames = model.warp_to(frame0, frame2, flow02, flow20, t)[0]  # both frames splatted to t
            # frame0's square (columns 10-25) moved 12 t px, frame2's (22-37) -12 (1 - t) px: pure square colour
            # where it lands on itself, a hole (0) behind it; where it lands on the still background, a mix
            for side, (left, right), shift in ((frames[0, :3], (10, 26), round(12 * t)), (frames[0, 3:], (22, 38), 0)):
                shift = shift or -round(12 * (1 - t))
                rows = side[:, 8:24]
                square = ((rows - colour[:, None, None]).abs().amax(0) < 1e-6).all(0).nonzero().flatten().tolist()
                hole = (rows == 0).all(0).all(0).nonzero().flatten().tolist()
                if shift > 0:
                    assert (square, hole) == (list(range(left + shift, right)), list(range(left, left + shift))), t
                else:
                    assert (square, hole) == (list(range(left, right + shift)), list(range(right + shift, right))), t
        pair = [torch.cat([f, f]) for f in (frame0, frame2, flow02, flow20)]
        both = model.warp_to(*pair, t=torch.tensor([0.25, 0.75]))
        alone = model.warp_to(frame0, frame2, flow02, flow20, t=0.75)
        for batched, single in zip(both, alone):
            torch.testing.assert_close(batched[1:], single)


def test_animeinterp_norfr_takes_times_through_load(tmp_path):
    """The released checkpoint's layout, seeded random values, loaded through the method with given flows; a batch
    of times gives each frame as alone."""
    from atdkit.benchmark.methods.animeinterp.model import AnimeInterp

    torch.manual_seed(1)
    path = tmp_path / "anime_interp_full.ckpt"
    torch.save({"model_state_dict": {f"module.{k}": v for k, v in AnimeInterp().state_dict().items()}}, path)
    method = available()["animeinterp-norfr"].with_options({"sgm": "precomputed"})
    interpolate = method.load({"animeinterp": path}, torch.device("cpu"))
    frame1, _, frame3 = (f.expand(2, -1, -1, -1) for f in moving_square(32, 48))
    flows = (torch.full((2, 2, 32, 48), 3.0), torch.full((2, 2, 32, 48), -3.0))
    with torch.inference_mode():
        both = interpolate(frame1, frame3, flows, t=torch.tensor([0.3, 0.5]))
        alone = interpolate(frame1[1:], frame3[1:], tuple(f[1:] for f in flows))
    torch.testing.assert_close(both[1:], alone, atol=1e-5, rtol=1e-5)
    assert (both[0] - both[1]).abs().max() > 1e-4  # t is used


@pytest.mark.parametrize("name", ["softsplat", "superslomo"])
def test_networks_take_one_time_per_frame(name):
    """Random networks: in a batch of times, t = 0.5 gives the default frame, another t another frame."""
    if name == "softsplat":
        from atdkit.benchmark.methods.softsplat.model import SoftSplat as Network
    else:
        from atdkit.benchmark.methods.superslomo.model import SuperSloMo as Network
    torch.manual_seed(2)
    network = Network().eval()
    frame1, _, frame3 = moving_square(64, 64)
    with torch.inference_mode():
        both = network(frame1.expand(2, -1, -1, -1), frame3.expand(2, -1, -1, -1), None, t=torch.tensor([0.25, 0.5]))
        torch.testing.assert_close(both[1:], network(frame1, frame3, None), atol=1e-5, rtol=1e-4)
    assert (both[0] - both[1]).abs().max() > 1e-4


def test_interpolate_writes_the_frames_asked_for(capsys, tmp_path):
    first, last = cartoon(SHAPES, 0.0), cartoon(SHAPES, 1.0)
    write_png(tmp_path / "a.png", first)
    write_png(tmp_path / "b.png", last)
    result = run_cli("interpolate", tmp_path / "a.png", tmp_path / "b.png", "--method", "blend", "--factor", 4, "--out",
                     tmp_path / "steps")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "steps").iterdir()) == ["t0.25.png", "t0.5.png", "t0.75.png"]
    expected = np.round(0.75 * first.astype(np.float32) / 255 * 255 + 0.25 * last.astype(np.float32))
    assert np.abs(read_png(tmp_path / "steps" / "t0.25.png") - expected).max() <= 1
    result = run_cli("interpolate", tmp_path / "a.png", tmp_path / "b.png", "--method", "repeat", "--times", 0.8,
                     "--out", tmp_path / "one.png")  # fmt: skip
    assert result.returncode == 0 and (read_png(tmp_path / "one.png") == last).all()
    command = ("interpolate", tmp_path / "a.png", tmp_path / "b.png", "--out", tmp_path / "x.png")
    assert "strictly between 0" in one_error(capsys, *command, "--method", "blend", "--times", 1.5)
    assert "written to a folder" in one_error(capsys, *command, "--method", "blend", "--factor", 3)
    middle_only = next((m.name for m in available().values() if not m.any_timestep and not m.neighbours), None)
    if middle_only is None:
        pytest.skip("every method takes any time now")
    assert f"method {middle_only} gives only the middle frame" in one_error(
        capsys, *command, "--method", middle_only, "--times", 0.25
    )
