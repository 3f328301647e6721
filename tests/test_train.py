"""atdkit train: the training step, exact resumption, SGM flows cropped with the frames, schedules,
the command line end to end (kill -9, --resume, the checkpoint scored by atdkit bench), bad input."""

from __future__ import annotations

import io
import json
import math
import shutil
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import torch.nn.functional as F
from rich.console import Console

from atdkit import schema
from atdkit.benchmark import methods as registry
from atdkit.benchmark.checkpoint import read_tensors
from atdkit.benchmark.methods.animeinterp.sgm import VGGFeatures, compute_sgm
from atdkit.benchmark.methods.animeinterp.sgm.cache import DIGEST
from atdkit.benchmark.training import Trainer, TrainError, train
from atdkit.benchmark.training.data import (
    TrainingCrops,
    TrainingOrder,
    TrainingTriplet,
    load_frames,
    open_training_data,
)
from atdkit.benchmark.training.schedule import Schedule, parse_schedule
from atdkit.images import read_rgb, resize_lanczos
from atdkit.pipelines.formats.atd12k import read_flows, write_flows
from atdkit.store import Dataset, write_table
from helpers import (
    REPO,
    SHAPES,
    STORED_FLOWS,
    TinyNet,
    cartoon,
    one_error,
    quiet,
    run_cli,
    subprocess_env,
    tiny_method,
    tiny_settings,
    triplet_ids,
    write_png,
)
from helpers import (
    TRAIN_SIZE as SIZE,
)


@pytest.fixture(scope="module")
def tiny_data(cartoon_dataset, tmp_path_factory):
    """A copy of the cartoon dataset with flows stored at SIZE for every triplet (the tiny method's)."""
    root = tmp_path_factory.mktemp("tiny") / "dataset"
    shutil.copytree(cartoon_dataset, root)
    rng = np.random.default_rng(0)
    for triplet_id in triplet_ids(root):
        flow = rng.normal(0, 3, (2, SIZE[1], SIZE[0]))
        write_flows(root / STORED_FLOWS / triplet_id, flow, -flow)
    return root


@pytest.fixture(scope="module")
def tiny_run(tiny_data, tmp_path_factory):
    """An uninterrupted 6-step run of the tiny network (5 steps per epoch: validated at steps 5 and 6)."""
    out = tmp_path_factory.mktemp("runs") / "whole"
    report = train(tiny_method(), tiny_data, out, tiny_settings(), console=quiet())
    return out, report


def test_one_step_lowers_the_loss():
    torch.manual_seed(0)
    frames = torch.rand(2, 3, 3, 32, 32)
    frames[:, 1] = 0.7 * frames[:, 0] + 0.3 * frames[:, 2] + 0.1  # a middle frame the mean misses
    batch = {"frames": (frames.clamp(0, 1) * 255).round().to(torch.uint8)}
    network = TinyNet()
    trainer = Trainer(tiny_method(flows=None), network, torch.device("cpu"), 1e-3, Schedule("constant"), amp=False)

    def loss() -> float:
        network.eval()
        with torch.no_grad():
            frame1, frame2, frame3, _ = trainer.inputs(batch)
            value = float((trainer.predict(network, frame1, frame3, None) - frame2).abs().mean())
        network.train()
        return value

    before = loss()
    trainer.step(batch)
    assert loss() < before
    for _ in range(5):
        trainer.step(batch)
    assert loss() < before * 0.9


def test_micro_batches_make_the_same_step():
    torch.manual_seed(0)
    batch = {
        "frames": torch.randint(0, 256, (4, 3, 3, 24, 24), dtype=torch.uint8),
        "flows": torch.randn(4, 2, 2, 24, 24),
    }
    weights = TinyNet(dropout=0).state_dict()
    stepped = []
    for micro_batches in (1, 3):  # 3 parts of 2, 1 and 1 triplets: shares unequal
        network = TinyNet(dropout=0)
        network.load_state_dict(weights)
        trainer = Trainer(tiny_method(), network, torch.device("cpu"), 1e-2, Schedule("constant"), amp=False)
        losses = [float(trainer.step(batch, micro_batches)) for _ in range(2)]
        stepped.append((losses, network.state_dict()))
    (losses, state), (parts_losses, parts_state) = stepped
    assert parts_losses == pytest.approx(losses, rel=1e-6)
    for name, tensor in state.items():
        torch.testing.assert_close(parts_state[name], tensor, rtol=1e-5, atol=1e-6)


def test_a_run_writes_checkpoints_history_and_plot(tiny_run, tiny_data):
    out, report = tiny_run
    assert (report.steps, report.epochs, report.best_step) == (6, 1, report.best_step) and report.best_step in (5, 6)
    best = torch.load(out / "best.pt", weights_only=True)
    info = best["atdkit_training"]
    assert info["method"] == "tiny" and info["weights_key"] == "tiny" and info["steps"] == report.best_step
    assert info["val_psnr"] == info["best_val_psnr"] == report.best_val_psnr
    data = open_training_data(tiny_data, 0.25, 0)
    assert info["dataset_fingerprint"] == data.fingerprint()
    assert {t.source_id for t in data.val}.isdisjoint(
        t.source_id for t in data.train
    )  # validation holds out whole films
    network = registry.load_trained(tiny_method(), out / "best.pt", torch.device("cpu"))
    assert isinstance(network, TinyNet) and not network.training
    psnrs = []  # the validation PSNR recomputed here: whole frames at SIZE, padded to 104x64 and cropped back
    for triplet in data.val:
        frames = (
            torch.from_numpy(np.stack([resize_lanczos(read_rgb(p), SIZE) for p in triplet.frames])).permute(0, 3, 1, 2)
            / 255
        )
        flows = [torch.from_numpy(f)[None] for f in read_flows(tiny_data / STORED_FLOWS / triplet.triplet_id)]
        padded = [F.pad(t, (0, 4, 0, 4), mode="replicate") for t in (frames[0:1], frames[2:3], *flows)]
        with torch.no_grad():
            middle = network(padded[0], padded[1], padded[2:])[0, :, :60, :100].clamp(0, 1)
        psnrs.append(-10 * math.log10(float((middle - frames[1]).square().mean())))
    assert info["val_psnr"] == pytest.approx(np.mean(psnrs), abs=1e-4)
    assert info["settings"] == {
        "size": [100, 60],
        "crop": 32,
        "batch_size": 4,
        "lr": 1e-4,
        "schedule": "constant",
        "val_fraction": 0.25,
        "seed": 0,
        "flows": f"flows stored in DATASET_DIR/{STORED_FLOWS}",
        "mixed_precision": False,
    }
    assert set(best) == {"atdkit_training", "model_state_dict"}  # best.pt: weights only, small
    last = torch.load(out / "last.pt", weights_only=True)
    assert {"optimizer_state_dict", "scheduler_state_dict", "scaler_state_dict", "rng_state", "history"} <= set(last)
    lines = (out / "history.csv").read_text().splitlines()
    assert lines[0] == "step,epoch,loss,lr,val_psnr" and len(lines) == 7
    validated = [line.split(",")[0] for line in lines[1:] if line.split(",")[-1]]
    assert validated == ["5", "6"] and lines[6].split(",")[1] == "2"  # step 6 opens epoch 2
    assert (out / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".tmp-*"))


def test_resume_continues_exactly_as_an_uninterrupted_run(tiny_run, tiny_data, tmp_path):
    whole, _ = tiny_run
    out = tmp_path / "resumed"
    train(tiny_method(), tiny_data, out, tiny_settings(steps=3, workers=1), console=quiet())
    assert torch.load(out / "last.pt", weights_only=True)["atdkit_training"]["steps"] == 3
    report = train(tiny_method(), tiny_data, out, tiny_settings(workers=1), resume=True, console=quiet())
    assert report.resumed_from == 3 and report.steps == 6
    expected, resumed = (torch.load(path / "last.pt", weights_only=True) for path in (whole, out))
    for name, tensor in expected["model_state_dict"].items():
        assert torch.equal(tensor, resumed["model_state_dict"][name]), name
    for index, state in expected["optimizer_state_dict"]["state"].items():
        for key, value in state.items():
            assert torch.equal(value, resumed["optimizer_state_dict"]["state"][index][key]), (index, key)
    assert expected["scheduler_state_dict"] == resumed["scheduler_state_dict"]
    assert torch.equal(expected["rng_state"]["torch"], resumed["rng_state"]["torch"])
    assert expected["history"]["losses"] == resumed["history"]["losses"]


def test_data_order_depends_on_the_step_only():
    order = TrainingOrder(10, 4, seed=1, start=0, stop=9)
    items = list(order)
    assert order.steps_per_epoch == 3 and len(items) == 36 == len(order)
    epochs = [items[12 * e : 12 * (e + 1)] for e in range(3)]
    for epoch in epochs:
        indices = [index for index, _ in epoch]
        assert sorted(indices[:10]) == list(range(10)) and indices[10:] == indices[:2]  # the last batch wrapped around
    assert [i for i, _ in epochs[0]] != [i for i, _ in epochs[1]]
    assert list(TrainingOrder(10, 4, seed=1, start=4, stop=9)) == items[16:]
    halves = [list(TrainingOrder(10, 4, seed=1, start=0, stop=9, rank=rank, world=2)) for rank in (0, 1)]
    assert sorted(halves[0] + halves[1]) == sorted(items) and halves[0][:2] == [items[0], items[2]]


def test_crops_flip_and_reverse_the_flows_with_the_frames(tmp_path):
    width, height, crop = 40, 24, 16
    folder = tmp_path / "frames" / "t"
    folder.mkdir(parents=True)
    ys, xs = np.mgrid[0:height, 0:width]
    import cv2

    for n in (1, 2, 3):  # each pixel tells where it is (red: x, green: y) and which frame (blue)
        cv2.imwrite(
            str(folder / f"frame{n}.png"), np.dstack([np.full_like(xs, 80 * n), ys * 10, xs * 6]).astype(np.uint8)
        )
    flow13 = np.stack([xs + 0.25, ys + 0.5]).astype(np.float64)  # the flows tell where they are too
    write_flows(tmp_path / "flows" / "t", flow13, flow13 + 1000)
    triplet = TrainingTriplet("t", "film", tuple(folder / f"frame{n}.png" for n in (1, 2, 3)))
    crops = TrainingCrops([triplet], (width, height), crop, flow_folders={"t": tmp_path / "flows" / "t"})
    seen = set()
    for seed in range(40):
        sample = crops[(0, seed)]
        frames, flows = sample["frames"].numpy().astype(float), sample["flows"].numpy()
        assert frames.shape == (3, 3, crop, crop) and flows.shape == (2, 2, crop, crop)
        flipped = frames[0, 0, 0, 0] > frames[0, 0, 0, -1]
        reversed_ = frames[0, 2, 0, 0] == 240  # frame3 first
        left, top = frames[0, 0, 0, -1 if flipped else 0] / 6, frames[0, 1, 0, 0] / 10
        x = np.arange(crop)[::-1] + left if flipped else np.arange(crop) + left
        for flow, offset in (
            (flows[0], 1000 if reversed_ else 0),
            (flows[1], 0 if reversed_ else 1000),
        ):  # reversed: swapped
            assert np.allclose(flow[0], (-1 if flipped else 1) * (x[None, :] + 0.25 + offset))  # flipped: x negated
            assert np.allclose(flow[1], np.arange(crop)[:, None] + top + 0.5 + offset)
        assert [frames[n, 2, 0, 0] for n in range(3)] == ([240, 160, 80] if reversed_ else [80, 160, 240])
        seen.add((bool(flipped), bool(reversed_)))
    assert len(seen) == 4


def shapes_dataset(root: Path) -> list[str]:
    """Three triplets of three films, each of SHAPES moving at another speed (frames 256x192, where
    SGM finds the shapes)."""
    rows = []
    for n, scale in enumerate((1.0, -0.8, 0.6)):
        shapes = [
            (kind, centre, half, colour, (dx * scale, dy * scale)) for kind, centre, half, colour, (dx, dy) in SHAPES
        ]
        triplet_id = f"shapes{n}_000000_i0"
        for i, t in enumerate((0, 0.5, 1), 1):
            write_png(root / "frames" / triplet_id / f"frame{i}.png", cartoon(shapes, t))
        rows.append({"triplet_id": triplet_id, "source_id": f"shapes{n}", "width": 256, "height": 192})
    Dataset(root).write("triplets", rows)
    return [row["triplet_id"] for row in rows]


def vgg_files(folder: Path) -> tuple[Path, Path]:
    """Two VGG-19 files that give SGM other flows: random weights, and zeros."""
    torch.manual_seed(0)
    state = VGGFeatures().state_dict()
    files = folder / "vgg19-random.pth", folder / "vgg19-zeros.pth"
    torch.save(state, files[0])
    torch.save({name: torch.zeros_like(tensor) for name, tensor in state.items()}, files[1])
    return files


def sgm_training_flows(**options):
    """AnimeInterp's training flows (SGM, kept in a cache keyed by frames, VGG-19 file and line
    style) under ``options``."""
    return registry.get("animeinterp").with_options(options).trainable.flows


def prepared(flows, root: Path, vgg: Path, size=(256, 192)) -> dict[str, Path]:
    triplets = open_training_data(root, 0.25, 0)
    items = [(t.triplet_id, partial(load_frames, t, size)) for t in triplets.train + triplets.val]
    return flows.prepare(items, {"vgg19": vgg}, torch.device("cpu"), root, lambda: None)


def test_kept_sgm_flows_serve_only_the_same_frames_vgg_file_and_line_style(tmp_path):
    root = tmp_path / "dataset"
    ids = shapes_dataset(root)
    random_vgg, zero_vgg = vgg_files(tmp_path)
    frames = {
        t.triplet_id: load_frames(t, (256, 192)) for t in (lambda d: d.train + d.val)(open_training_data(root, 0.25, 0))
    }

    def expected(vgg: Path, style: str) -> dict[str, np.ndarray]:
        return {i: compute_sgm(f[0], f[2], VGGFeatures.from_file(vgg), style=style)[0] for i, f in frames.items()}

    def used(folders: dict[str, Path]) -> dict[str, np.ndarray]:
        return {i: read_flows(folder)[0] for i, folder in folders.items()}

    first = prepared(sgm_training_flows(), root, random_vgg)
    assert sorted(first) == ids and all(folder.is_relative_to(root / "sgm_flows") for folder in first.values())
    with_zeros = used(prepared(sgm_training_flows(), root, zero_vgg))  # another VGG-19 file: computed again, not reused
    for triplet_id, flow in expected(zero_vgg, "japan").items():
        assert not np.allclose(flow, used(first)[triplet_id])  # so that reusing the first run's flows would show
        np.testing.assert_allclose(with_zeros[triplet_id], flow, atol=1e-4)
    western = used(prepared(sgm_training_flows(sgm_style="western"), root, random_vgg))  # another line style likewise
    for triplet_id, flow in expected(random_vgg, "western").items():
        np.testing.assert_allclose(western[triplet_id], flow, atol=1e-4)
    assert not np.allclose(western[ids[0]], used(first)[ids[0]])


@pytest.mark.slow
def test_sgm_flows_are_computed_once_and_an_interrupted_computation_resumes(tmp_path):
    root = tmp_path / "dataset"
    ids = shapes_dataset(root)
    vgg, _ = vgg_files(tmp_path)
    output = io.StringIO()
    method = tiny_method(flows=sgm_training_flows())
    train(
        method,
        root,
        tmp_path / "run",
        tiny_settings(size=(256, 192), steps=1, batch_size=2),
        weights={"vgg19": vgg},
        console=Console(file=output, width=200),
    )
    assert (
        f"SGM flows, line style auto, kept in DATASET_DIR/sgm_flows: ready for {len(ids)} triplets" in output.getvalue()
    )
    folders = prepared(sgm_training_flows(), root, vgg)
    written = {i: (folder / "guide_flo13.npy").stat().st_mtime_ns for i, folder in folders.items()}
    (folders[ids[1]] / DIGEST).unlink()  # as if killed before the flows were complete
    assert prepared(sgm_training_flows(), root, vgg) == folders
    again = {i: (folder / "guide_flo13.npy").stat().st_mtime_ns for i, folder in folders.items()}
    assert [i for i in ids if again[i] != written[i]] == [ids[1]]  # only that triplet computed again
    other_size = prepared(
        sgm_training_flows(), root, vgg, size=(128, 96)
    )  # another --size: other frames, computed again
    assert all(read_flows(folder)[0].shape == (2, 96, 128) for folder in other_size.values())
    assert not list(root.rglob(".tmp-*"))
    shared_cache = tmp_path / "cache"  # --sgm-cache: the bench's cache serves training too
    assert all(
        folder.is_relative_to(shared_cache)
        for folder in prepared(sgm_training_flows(sgm_cache=shared_cache), root, vgg).values()
    )


def test_schedules():
    assert [parse_schedule("step:2:0.5", 10, 100).factor(s) for s in (0, 19, 20, 45)] == [1, 1, 0.5, 0.25]
    paper = parse_schedule("multistep:150,100:0.1", 4, 800)
    assert paper.spec() == "multistep:100,150:0.1"
    assert [paper.factor(s) for s in (399, 400, 599, 600)] == pytest.approx([1, 0.1, 0.1, 0.01])
    cosine = parse_schedule("cosine", 10, 100)
    assert cosine.spec() == "cosine:100" and cosine.factor(0) == 1 and cosine.factor(50) == pytest.approx(0.5)
    assert cosine.factor(100) == pytest.approx(0) and parse_schedule("constant", 3, 9).factor(8) == 1
    for bad in ("linear", "step:0:0.1", "step:1,2:0.1", "multistep:a:0.1", "cosine:5"):
        with pytest.raises(ValueError, match="expected constant, step:EPOCHS:GAMMA"):
            parse_schedule(bad, 10, 100)


def test_resume_refuses_other_settings_and_data(tiny_run, tiny_data, tmp_path):
    whole, _ = tiny_run
    out = tmp_path / "run"
    shutil.copytree(whole, out)
    with pytest.raises(TrainError, match=r"trained with crop = 32, this command asks 48 \(--crop\)"):
        train(tiny_method(), tiny_data, out, tiny_settings(crop=48), resume=True, console=quiet())
    with pytest.raises(TrainError, match=r"exists: .* holds a run; continue it with --resume"):
        train(tiny_method(), tiny_data, out, tiny_settings(), console=quiet())
    changed = tmp_path / "changed"
    shutil.copytree(tiny_data, changed)
    frame = changed / "frames" / triplet_ids(changed)[0] / "frame2.png"
    frame.write_bytes(frame.read_bytes() + b"\0")  # one frame file rewritten
    with pytest.raises(TrainError, match="the run was trained on other data"):
        train(tiny_method(), changed, out, tiny_settings(), resume=True, console=quiet())


def test_bad_input_is_one_line_each(capsys, dataset, tiny_run, tmp_path, monkeypatch):
    monkeypatch.setenv("ATDKIT_WEIGHTS", str(tmp_path / "no-weights"))
    run = [
        "--data",
        dataset,
        "--out",
        tmp_path / "run",
        "--size",
        "160x128",
        "--crop",
        "128",
        "--batch-size",
        "2",
        "--workers",
        "0",
    ]
    trainable = ", ".join(name for name, method in registry.available().items() if method.trainable)
    assert f"unknown method 'nope'; trainable methods: {trainable}" in one_error(
        capsys, "train", "--method", "nope", *run
    )
    assert f"method blend declares no network to train; trainable methods: {trainable}" in one_error(
        capsys, "train", "--method", "blend", *run
    )
    assert "--crop 200 is larger than the training frames (160x128, --size)" in one_error(
        capsys, "train", "--method", "animeinterp", *run, "--crop", "200"
    )
    assert (
        "needs vgg19-dcbb9e9d.pth" in (err := one_error(capsys, "train", "--method", "animeinterp", *run))
        and "--no-sgm" in err
    )
    assert "last.pt: no such file: nothing to resume" in one_error(
        capsys, "train", "--method", "animeinterp", *run, "--no-sgm", "--resume"
    )
    assert "--accumulate 3 is more micro-batches than the 2 triplets" in one_error(
        capsys, "train", "--method", "animeinterp", *run, "--no-sgm", "--accumulate", "3"
    )
    whole, _ = tiny_run
    assert (
        "a checkpoint of method 'tiny' (tiny network) made by atdkit train; "
        "it cannot continue as a run of method 'animeinterp'"
        in one_error(
            capsys,
            "train",
            "--method",
            "animeinterp",
            "--data",
            dataset,
            "--out",
            whole,
            "--resume",
            "--no-sgm",
            "--size",
            "100x60",
            "--crop",
            "32",
        )
    )
    foreign = tmp_path / "softsplat.pt"
    torch.save(
        {
            "atdkit_training": {"method": "softsplat", "weights_key": "softsplat"},
            "model_state_dict": {"w": torch.zeros(1)},
        },
        foreign,
    )
    assert (
        "a checkpoint of method 'softsplat' (softsplat network) made by atdkit train, not anime_interp_full.ckpt"
        in one_error(
            capsys, "train", "--method", "animeinterp", *run, "--no-sgm", "--weights", f"animeinterp={foreign}"
        )
    )
    assert "training animeinterp uses no weight file called rife (it takes animeinterp)" in one_error(
        capsys, "train", "--method", "animeinterp", *run, "--no-sgm", "--weights", f"rife={foreign}"
    )
    write_table(
        dataset / "splits.parquet", [{"triplet_id": t, "split": "test"} for t in triplet_ids(dataset)], schema.SPLITS
    )
    assert "no train triplets (in " in (err := one_error(capsys, "train", "--method", "animeinterp", *run, "--no-sgm"))
    assert "on the train side of splits.parquet" in err
    assert not (tmp_path / "run").exists()  # nothing was started


@pytest.mark.slow
def test_command_line_run_killed_resumes_and_is_scored_by_bench(synth_clip, tmp_path):
    clip, _ = synth_clip
    data = tmp_path / "dataset"
    assert run_cli("extract", "--videos", clip, "--out", data, "--resize", "256x144").returncode == 0
    ids = triplet_ids(data)
    write_table(
        data / "splits.parquet",
        [{"triplet_id": t, "split": "test" if t == ids[-1] else "train"} for t in ids],
        schema.SPLITS,
    )
    out = tmp_path / "run"
    command = [
        "train",
        "--method",
        "animeinterp",
        "--data",
        data,
        "--out",
        out,
        "--no-sgm",
        "--size",
        "128x128",
        "--crop",
        "128",
        "--batch-size",
        "1",
        "--steps",
        "2",
        "--save-every",
        "1",
        "--val-fraction",
        "0.05",
        "--workers",
        "0",
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "atdkit", *map(str, command)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while not (out / "last.pt").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert read_tensors(out / "last.pt")["atdkit_training"]["steps"] == 1 and not (out / "best.pt").exists()
    result = run_cli(*command, "--resume")
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stderr and "validation PSNR" in result.stderr
    assert [line.split(",")[0] for line in (out / "history.csv").read_text().splitlines()[1:]] == ["1", "2"]
    info = read_tensors(out / "best.pt")["atdkit_training"]
    assert info["steps"] == 2 and info["train_triplets"] == len(ids) - 2 and info["val_triplets"] == 1

    results = tmp_path / "results"
    scored = run_cli(
        "bench",
        "--data",
        data,
        "--methods",
        "animeinterp-nosgm",
        "--out",
        results,
        "--device",
        "cpu",
        "--size",
        "256x144",
        "--weights",
        f"animeinterp={out / 'best.pt'}",
    )
    assert scored.returncode == 0, scored.stderr
    rows = pq.read_table(results / "per_triplet.parquet").to_pylist()
    assert [(row["triplet_id"], row["status"]) for row in rows] == [(ids[-1], "ok")] and np.isfinite(rows[0]["psnr"])
    trained = json.loads((results / "run.json").read_text())["methods"]["animeinterp-nosgm"]["weights"]["animeinterp"][
        "trained"
    ]
    assert trained["steps"] == 2 and trained["dataset_fingerprint"] == info["dataset_fingerprint"]


@pytest.mark.slow
def test_torchrun_processes_train_as_one(tiny_data, tmp_path):
    """Two CPU processes (gloo) with half a batch each, in two micro-batches, end where one process
    with whole batches does."""
    script = tmp_path / "run.py"
    script.write_text(
        "import sys\nfrom atdkit.benchmark.training import train\n"
        "from helpers import quiet, tiny_method, tiny_settings\n"
        "train(tiny_method(dropout=0), sys.argv[1], sys.argv[2], tiny_settings(accumulate=2), console=quiet())\n"
    )
    launched = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            script,
            tiny_data,
            tmp_path / "two",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**subprocess_env(), "OMP_NUM_THREADS": "1"},
    )
    assert launched.returncode == 0, launched.stderr[-3000:]
    train(tiny_method(dropout=0), tiny_data, tmp_path / "one", tiny_settings(), console=quiet())
    two, one = (torch.load(tmp_path / name / "last.pt", weights_only=True) for name in ("two", "one"))
    for name, tensor in one["model_state_dict"].items():
        torch.testing.assert_close(two["model_state_dict"][name], tensor, rtol=0, atol=1e-6)
    assert two["history"]["losses"] == pytest.approx(one["history"]["losses"], abs=1e-6)
    assert two["atdkit_training"]["val_psnr"] == pytest.approx(one["atdkit_training"]["val_psnr"], abs=1e-4)
