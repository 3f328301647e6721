"""QVI: the released checkpoint's layout and strict loading, the rewritten CUDA-free layers against naive
per-pixel references (values and gradients), the quadratic flows, forward passes on real frames, and
``atdkit bench`` feeding it the true neighbouring frames of a dataset's films, or frame1 and frame3 with a
note when the film is gone.

Checkpoints are synthesised in the release's format (train.py's dict: ``model_state_dict`` with
DataParallel's ``module.`` keys beside training records and a datetime, as PyTorch 1.5.1 saved it) with
seeded random values; the layout is the release's modules (models/QVI.py: ``flownet`` = PWC-Net,
``refinenet`` = UNet2(20, 8), ``masknet`` = SmallMaskNet(38, 1); the parameterless ``acc`` and
``fwarp`` hold no tensors).
"""

from __future__ import annotations

import datetime
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from atdkit.benchmark import methods
from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.data import NeighbourReader, load_triplet, open_data
from atdkit.benchmark.harness import run_bench
from atdkit.benchmark.methods import Method, MethodError
from atdkit.benchmark.methods.qvi import METHOD, QVI
from atdkit.benchmark.methods.qvi.model import backwarp
from atdkit.benchmark.methods.qvi.pwcnet import backwarp_inside
from atdkit.benchmark.methods.qvi.reversal import gaussian_splat, reverse_flow
from atdkit.benchmark.methods.softsplat import PWCNet as SoftSplatPWCNet
from atdkit.benchmark.methods.superslomo.unet import UNet as SuperSloMoUNet
from atdkit.images import resize
from atdkit.store import Dataset
from atdkit.video import open_video
from helpers import ffmpeg_decode, read_png, run_cli, shared, tiny_atd_layout

torch.set_num_threads(1)


def released(state: dict) -> dict:
    """What the release's train.py writes (the network inside nn.DataParallel)."""
    return {
        "Detail": "Quadratic video interpolation.",
        "epoch": 249,
        "timestamp": datetime.datetime(2019, 5, 20, 8, 30),
        "trainBatchSz": 25,
        "validationBatchSz": 1,
        "learningRate": 1e-5,
        "loss": [[0.1]],
        "valLoss": [[0.1]],
        "valPSNR": [[31.0]],
        "model_state_dict": {f"module.{name}": tensor for name, tensor in state.items()},
    }


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    return {
        name: tensor + 0.01 * torch.randn(tensor.shape, generator=generator)
        for name, tensor in QVI().state_dict().items()
    }


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, state):
    path = tmp_path_factory.mktemp("qvi") / "model.pt"
    torch.save(released(state), path, _use_new_zipfile_serialization=False)  # PyTorch 1.5.1's format
    return path


@pytest.fixture(scope="module")
def model(checkpoint) -> QVI:
    return QVI.from_checkpoint(checkpoint)


def test_layout_is_the_releases():
    network = QVI()
    layout = {name: tuple(t.shape) for name, t in network.state_dict().items()}
    pwc = {f"flownet.{name}": tuple(t.shape) for name, t in SoftSplatPWCNet().state_dict().items()}
    unet = {f"refinenet.{name}": tuple(t.shape) for name, t in SuperSloMoUNet(20, 8).state_dict().items()}
    mask = {
        "masknet.conv1.weight": (32, 38, 5, 5),
        "masknet.conv1.bias": (32,),
        "masknet.conv2.weight": (16, 32, 3, 3),
        "masknet.conv2.bias": (16,),
        "masknet.conv3.weight": (1, 16, 3, 3),
        "masknet.conv3.bias": (1,),
    }
    assert layout == {**pwc, **unet, **mask}
    assert sum(math.prod(shape) for shape in layout.values()) == 29_226_699


def test_the_released_checkpoint_loads_strictly(model, state, checkpoint):
    assert not model.training
    assert all(torch.equal(model.state_dict()[name], tensor) for name, tensor in state.items())
    assert methods.resolve_weights(METHOD, {"qvi": checkpoint}) == {"qvi": checkpoint}  # its datetime is accepted


def test_wrong_files_are_refused_in_one_line(tmp_path, state, checkpoint):
    changed = dict(state)
    del changed["masknet.conv3.bias"]
    changed["refinenet.conv1.weight"] = torch.zeros(32, 6, 7, 7)
    path = tmp_path / "changed.pt"
    torch.save(released(changed), path)
    with pytest.raises(CheckpointError) as error:
        QVI.from_checkpoint(path)
    message = str(error.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert "not a QVI network (model.pt of xuxy09/QVI): 1 missing keys (masknet.conv3.bias)" in message
    assert "refinenet.conv1.weight (32, 6, 7, 7) instead of (32, 20, 7, 7)" in message
    foreign = tmp_path / "SuperSloMo.ckpt"
    torch.save({"state_dictFC": {}, "state_dictAT": {}}, foreign)
    with pytest.raises(MethodError, match="SuperSloMo.ckpt: checkpoint lacks model_state_dict: not model.pt"):
        methods.resolve_weights(METHOD, {"qvi": foreign})
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(checkpoint.read_bytes()[:200_000])
    with pytest.raises(MethodError, match="truncated.pt: not a readable PyTorch checkpoint"):
        METHOD.load({"qvi": truncated}, torch.device("cpu"))


def naive_gaussian_splat(values: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel by pixel: each source pixel's value to the four pixels around its target, weight exp(-distance^2)."""
    _, channels, height, width = values.shape
    out = [[[torch.zeros(()) for _ in range(width)] for _ in range(height)] for _ in range(channels + 1)]
    for y in range(height):
        for x in range(width):
            target_x, target_y = x + flow[0, 0, y, x], y + flow[0, 1, y, x]
            left, top = math.floor(target_x.item()), math.floor(target_y.item())
            for column in (left, left + 1):
                for row in (top, top + 1):
                    if 0 <= column < width and 0 <= row < height:
                        weight = torch.exp(-((target_x - column) ** 2 + (target_y - row) ** 2))
                        for c in range(channels):
                            out[c][row][column] = out[c][row][column] + weight * values[0, c, y, x]
                        out[channels][row][column] = out[channels][row][column] + weight
    stacked = torch.stack([torch.stack([torch.stack(row) for row in plane]) for plane in out])[None]
    return stacked[:, :channels], stacked[:, channels:]


def test_flow_reversal_matches_a_per_pixel_reference_in_values_and_gradients():
    generator = torch.Generator().manual_seed(3)
    flow = (torch.randn(1, 2, 5, 6, generator=generator) * 2.5).double().requires_grad_()  # some land outside
    values = torch.randn(1, 3, 5, 6, generator=generator).double().requires_grad_()
    found, expected = gaussian_splat(values, flow), naive_gaussian_splat(values, flow)
    for a, b in zip(found, expected):
        torch.testing.assert_close(a, b)
    probe = torch.randn(1, 4, 5, 6, generator=generator).double()
    gradients = [torch.autograd.grad((torch.cat(out, 1) * probe).sum(), (values, flow)) for out in (found, expected)]
    for a, b in zip(*gradients):
        torch.testing.assert_close(a, b)
    assert gradients[0][1].abs().sum() > 0  # the flow gets gradients through the Gaussian weights
    # eq. 4: the weighted mean of the negated flows landing at each pixel, 0 where nothing landed
    summed, weight = expected
    reference = torch.where(weight > 0, -naive_gaussian_splat(flow, flow)[0] / weight.clamp_min(1e-300), 0.0)
    torch.testing.assert_close(reverse_flow(flow), reference)
    # a uniform shift by whole pixels reverses exactly where pixels landed, holes where none did
    shift = torch.zeros(1, 2, 5, 6, dtype=torch.float64)
    shift[:, 0] = 2.0
    reversed_shift = reverse_flow(shift)
    assert torch.all(reversed_shift[:, 0, :, 2:] == -2.0) and torch.all(reversed_shift[:, :, :, :2] == 0)


def bilinear(image: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """``image`` (C, H, W) at (x, y) in pixels, bilinear, zeros outside."""
    total = torch.zeros(image.shape[0], dtype=image.dtype)
    for column in (math.floor(x), math.floor(x) + 1):
        for row in (math.floor(y), math.floor(y) + 1):
            if 0 <= column < image.shape[2] and 0 <= row < image.shape[1]:
                total += (1 - abs(x - column)) * (1 - abs(y - row)) * image[:, row, column]
    return total


def test_warps_sample_where_the_release_samples():
    """The release's backwarp samples x + u - 1/2; its PWC-Net's (x + u) W / (W - 1) - 1/2, zeroed past the edges."""
    generator = torch.Generator().manual_seed(4)
    image = torch.rand(1, 2, 5, 7, generator=generator, dtype=torch.float64)
    flow = torch.randn(1, 2, 5, 7, generator=generator, dtype=torch.float64) * 1.5
    warped, inside = backwarp(image, flow), backwarp_inside(image, flow)
    height, width = 5, 7
    for y in range(height):
        for x in range(width):
            u, v = float(flow[0, 0, y, x]), float(flow[0, 1, y, x])
            torch.testing.assert_close(warped[0, :, y, x], bilinear(image[0], x + u - 0.5, y + v - 0.5))
            px, py = (x + u) * width / (width - 1) - 0.5, (y + v) * height / (height - 1) - 0.5
            ones = bilinear(torch.ones(1, height, width, dtype=torch.float64), px, py)
            keep = float(ones[0]) > 0.999
            torch.testing.assert_close(inside[0, :, y, x], bilinear(image[0], px, py) * keep)


def real_frames(count: int = 4, size=(96, 64)) -> torch.Tensor:
    """Frames 120.. of a real clip, a crop resized to ``size``: (count, 3, H, W) in [0, 1]."""
    stream, frames = open_video(shared("clips", "copying_is_not_theft_32s.mp4")), []
    decoded = stream.frames()
    try:
        for frame in decoded:
            if frame.index >= 120:
                frames.append(resize(frame.rgb()[40:328, 80:560], size))
            if len(frames) == count:
                break
    finally:
        decoded.close()
        stream.close()
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255


def test_flows_to_t_follow_quadratic_motion(model):
    """Eq. 3 on the flows PWC-Net found: with positions x(-1), x(0), x(1) of a point moving as x0 + v s + a s^2 / 2,
    f_1->t = v t + a t^2 / 2 (and the same backward in time from frame 3)."""
    frame0, frame1, frame3, frame4 = real_frames()[:, None]
    t = torch.tensor([0.3])
    with torch.no_grad():
        _, flows = model(frame1, frame3, t=t, neighbours=(frame0, frame4), details=True)
    velocity, acceleration = (flows["flow12"] - flows["flow10"]) / 2, flows["flow12"] + flows["flow10"]
    torch.testing.assert_close(flows["flow1t"], velocity * 0.3 + acceleration * 0.3**2 / 2)
    velocity, acceleration = (flows["flow21"] - flows["flow23"]) / 2, flows["flow21"] + flows["flow23"]
    torch.testing.assert_close(flows["flow2t"], velocity * 0.7 + acceleration * 0.7**2 / 2)
    with torch.no_grad():
        _, linear = model(frame1, frame3, t=t, details=True)
    torch.testing.assert_close(linear["flow1t"], 0.3 * linear["flow12"])  # eq. 1 without neighbours


def test_forward_on_real_frames_per_sample_times(model):
    frames = real_frames()
    frame0, frame1, frame3, frame4 = (f.expand(2, -1, -1, -1)[:, :, :, :85] for f in frames[:, None])  # odd width
    t = torch.tensor([0.5, 0.25])
    with torch.no_grad():
        both = model(frame1, frame3, t=t, neighbours=(frame0, frame4))
        quarter = model(frame1[:1], frame3[:1], t=0.25, neighbours=(frame0[:1], frame4[:1]))
        linear = model(frame1[:1], frame3[:1], t=0.25)
    assert both.shape == (2, 3, 64, 85) and torch.isfinite(both).all()
    torch.testing.assert_close(both[1:], quarter, atol=1e-5, rtol=1e-5)
    assert (both[0] - both[1]).abs().max() > 1e-4 and (quarter - linear).abs().max() > 1e-4
    with pytest.raises(ValueError, match="at least 32x32"):
        model(frame1[..., :20, :], frame3[..., :20, :])


@pytest.fixture(scope="module")
def film_dataset(tmp_path_factory):
    """A dataset extracted from a short synthetic clip: (clip, dataset root)."""
    from atdkit.pipelines.extraction.synth import render_clip

    folder = tmp_path_factory.mktemp("qvi_film")
    clip = folder / "toon.mp4"
    render_clip(clip, seed=12, size=(320, 180), seconds=2)
    result = run_cli("extract", "--videos", clip, "--out", folder / "dataset", "--resize", "96x64")
    assert result.returncode == 0, result.stderr
    return clip, folder / "dataset"


def test_neighbours_are_the_films_frames(film_dataset):
    """Frame0 and frame4 one interval before frame1 and after frame3, decoded from the film and resized as
    extraction saved the triplet's frames (320x180 -> 96x64); replicated where they fall outside the film."""
    clip, root = film_dataset
    data, decoded = open_data(root), ffmpeg_decode(clip)
    recorded = {row["triplet_id"]: row for row in Dataset(root).rows("triplets")}
    reader = NeighbourReader(data.triplets)
    inside = 0
    for triplet in data.triplets:
        first, _, third = recorded[triplet.triplet_id]["frames"]
        step = recorded[triplet.triplet_id]["interval"] + 1
        assert triplet.film.path == clip.resolve() and triplet.film.indices == (first - step, third + step)
        (frame0, frame4), note = reader.read(triplet)
        if first - step >= 0 and third + step < len(decoded):
            assert note == f"neighbours: film frames {first - step} and {third + step}"
            np.testing.assert_array_equal(frame0, resize(decoded[first - step], (96, 64)))
            np.testing.assert_array_equal(frame4, resize(decoded[third + step], (96, 64)))
            inside += 1
        else:
            assert (frame0 is None or frame4 is None) and "replicated (outside the film)" in note
    assert inside >= 2


def frame0_echo() -> Method:
    """A four-frame method whose prediction is the frame0 it is given: what ``atdkit bench`` feeds, visible."""
    return Method("frame0", "returns frame0", lambda weights, device: echo, neighbours=True)


def echo(frame1, frame3, flows, neighbours):
    return neighbours[0]


def test_bench_feeds_the_films_neighbours_or_replicates_with_a_note(film_dataset, checkpoint, tmp_path):
    clip, root = film_dataset
    size = (96, 64)
    run_bench(
        root,
        ["qvi", frame0_echo()],
        tmp_path / "r",
        size=size,
        device="cpu",
        weights={"qvi": checkpoint},
        save_frames=True,
    )
    rows = pq.read_table(tmp_path / "r" / "per_triplet.parquet").to_pandas()
    assert set(rows["status"]) == {"ok"} and set(rows["method"]) == {"qvi", "frame0"}
    assert rows["note"].str.startswith("neighbours: ").all()
    assert (rows["note"].str.startswith("neighbours: film frames").groupby(rows["method"]).sum() >= 2).all()
    for triplet in open_data(root).triplets:  # the frame0 each method was given: the film's, fitted like frame1
        item = load_triplet(triplet, size, neighbours=NeighbourReader([triplet]))
        np.testing.assert_array_equal(
            read_png(tmp_path / "r" / "frames" / "frame0" / f"{triplet.triplet_id}.png"), item.neighbours[0]
        )
        assert (item.neighbours[0] != item.frames[0]).any() or "replicated" in item.notes[0]

    moved = clip.with_name("moved.mp4")
    clip.rename(moved)
    try:
        run_bench(
            root,
            ["qvi", frame0_echo()],
            tmp_path / "gone",
            size=size,
            device="cpu",
            weights={"qvi": checkpoint},
            save_frames=True,
        )
    finally:
        moved.rename(clip)
    gone = pq.read_table(tmp_path / "gone" / "per_triplet.parquet").to_pandas()
    assert set(gone["status"]) == {"ok"}
    assert (gone["note"] == f"neighbours: replicated (film missing: {clip.resolve()})").all()
    for triplet in open_data(root).triplets:  # frame1 stood in for frame0
        frame1 = load_triplet(triplet, size).frames[0]
        np.testing.assert_array_equal(
            read_png(tmp_path / "gone" / "frames" / "frame0" / f"{triplet.triplet_id}.png"), frame1
        )


def test_a_training_step_trains_the_refinement_and_mask_networks_only(checkpoint):
    """As the release's train.py: PWC-Net frozen; triplets train the two-frame mode (no neighbours in training)."""
    torch.manual_seed(0)
    network = METHOD.trainable.build({"qvi": checkpoint})
    assert network.training and not any(p.requires_grad for p in network.flownet.parameters())
    frame0, frame1, frame2, frame3 = real_frames()[:, None]
    trainable = [p for p in network.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(trainable, lr=1e-4)
    loss = torch.nn.functional.l1_loss(METHOD.trainable.forward(network, frame1, frame3, None), frame2)
    loss.backward()
    assert network.refinenet.conv1.weight.grad.abs().sum() > 0 and network.masknet.conv1.weight.grad.abs().sum() > 0
    optimiser.step()
    with torch.no_grad():
        after = torch.nn.functional.l1_loss(network(frame1, frame3), frame2)
    assert after < loss.detach()


def test_bench_scores_the_official_layout_with_replicated_neighbours(checkpoint, tmp_path):
    tiny_atd_layout(tmp_path / "atd", 2)
    run_bench(tmp_path / "atd", ["qvi"], tmp_path / "r", size=(96, 64), device="cpu", weights={"qvi": checkpoint})
    rows = pq.read_table(tmp_path / "r" / "per_triplet.parquet").to_pandas()
    assert list(rows["status"]) == ["ok", "ok"] and np.isfinite(rows["psnr"]).all()
    assert (rows["note"] == "neighbours: replicated (no source film recorded)").all()
