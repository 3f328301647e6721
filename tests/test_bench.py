"""atdkit bench end to end: the official ATD-12K layout and atdkit datasets built here, the real CLI,
scores checked against scikit-image on the files as written, resuming, bad input, method plug-ins,
and dis-warp beating blend where the truth is known."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from atdkit import schema
from atdkit.benchmark import methods
from atdkit.benchmark.harness import BenchError, run_bench
from atdkit.benchmark.methods import Method, MethodError, Padding, Resize, WeightFile
from atdkit.benchmark.methods.dis_warp import interpolate_pair
from atdkit.benchmark.motion_cache import MotionCache
from atdkit.benchmark.results import WORST
from atdkit.benchmark.scoring.chamfer import chamfer_distance
from atdkit.benchmark.scoring.lpips import LPIPS
from atdkit.benchmark.summary import MOTION_BINS
from atdkit.cli import main
from atdkit.store import write_table
from helpers import BENCH_SIZE as SIZE
from helpers import (
    backbone_file,
    cartoon_triplet,
    needs_lpips,
    read_png,
    run_cli,
    shared,
    tiny_atd_layout,
    write_png,
)

ATD = {  # triplet id -> (level, RoI at 1920x1080, general_motion_type, behavior, what is special)
    "Disney_v4_0_000001_s2": (0, (400, 200, 900, 600), "translation", "walking", None),
    "Disney_v4_0_000002_s2": (1, (300, 100, 1000, 700), ["rotation", "scaling"], ["others"], None),
    "Japan_v2_0_000003_s3": (2, (600, 300, 800, 500), ["deformation"], "speaking", None),
    "Japan_v2_0_000004_s3": (0, (200, 200, 1200, 700), "translation", ["sporting", "others"], "unknown field"),
    "Japan_v2_0_000005_s3": (1, (1000, 500, 10, 300), "translation", "others", "tiny RoI"),
    "Japan_v2_0_000006_s3": (2, (1700, 900, 500, 400), "rotation", "others", "RoI outside"),
    "Japan_v2_0_000007_s3": (0, (400, 200, 900, 600), "translation", "others", "held drawing"),
    "Japan_v2_0_000008_s3": (1, (400, 200, 900, 600), "translation", "others", "missing frame2"),
    "Japan_v2_0_000009_s3": (2, (400, 200, 900, 600), "translation", "others", "bad JSON"),
    "Japan_v2_0_000010_s3": (0, (400, 200, 900, 600), "translation", "others", "sizes differ"),
    "Japan_v2_0_000011_s3": (1, (400, 200, 900, 600), "translation", "others", "corrupt frame3"),
}
FAILING = {
    "missing frame2": "frame2.png: no such file",
    "bad JSON": "not readable JSON",
    "sizes differ": "frame sizes differ",
    "corrupt frame3": "frame3.png: not a readable image",
}
READABLE = len(ATD) - len(FAILING)


@pytest.fixture(scope="module")
def atd_layout(tmp_path_factory):
    """The official test layout: 960x540 PNGs, JSON annotations with the RoI in 1920x1080 pixels."""
    root = tmp_path_factory.mktemp("atd")
    rng = np.random.default_rng(11)
    for triplet_id, (level, (x, y, w, h), motion, behavior, special) in ATD.items():
        frames = cartoon_triplet(rng)
        if special == "held drawing":
            frames[1] = frames[0]
        if special == "sizes differ":
            frames[2] = cv2.resize(frames[2], (640, 360))
        for n, image in enumerate(frames, 1):
            if not (special == "missing frame2" and n == 2):
                write_png(root / "test_2k_540p" / triplet_id / f"frame{n}.png", image)
        annotation = {
            "level": level,
            "motion_RoI": {"x": x, "y": y, "width": w, "height": h},
            "image_size": [1920, 1080],
            "general_motion_type": motion,
            "behavior": behavior,
        }
        if special == "unknown field":
            annotation["annotator_comment"] = "fast"
        path = root / "test_2k_annotations" / triplet_id / f"{triplet_id}.json"
        path.parent.mkdir(parents=True)
        path.write_text("{not json" if special == "bad JSON" else json.dumps(annotation))
        if special == "corrupt frame3":
            (root / "test_2k_540p" / triplet_id / "frame3.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    return root


def official_scores(prediction: np.ndarray, truth: np.ndarray, roi, image_size) -> dict:
    """The official script's numbers, from its formulas (scikit-image with the arguments it ended up using)."""
    pred = np.clip(prediction.astype(np.float64), 0, 1)
    gt = (truth.astype(np.float32) / np.float32(255)).astype(np.float64)  # ToTensor
    scale_w, scale_h = image_size[0] / 960, image_size[1] / 540
    x, y, w, h = int(roi[0] // scale_w), int(roi[1] // scale_h), int(roi[2] // scale_w), int(roi[3] // scale_h)

    def ssim(a, b):
        return structural_similarity(a, b, win_size=7, use_sample_covariance=True, data_range=2.0, channel_axis=2)

    with np.errstate(divide="ignore"):
        return {
            "psnr": peak_signal_noise_ratio(gt, pred, data_range=1.0),
            "ssim": ssim(pred, gt),
            "ie": np.mean(np.sqrt(np.sum((pred * 255 - gt * 255) ** 2, axis=2))),
            "roi_psnr": peak_signal_noise_ratio(gt[y : y + h, x : x + w], pred[y : y + h, x : x + w], data_range=1.0),
            "roi_ssim": ssim(pred[y : y + h, x : x + w], gt[y : y + h, x : x + w]) if min(w, h) >= 7 else None,
        }


def predictions(method: str, frame1: np.ndarray, frame3: np.ndarray) -> np.ndarray:
    a, b = frame1.astype(np.float32) / 255, frame3.astype(np.float32) / 255
    return {"repeat": lambda: a, "blend": lambda: (a + b) * 0.5, "dis-warp": lambda: interpolate_pair(a, b)}[method]()


@pytest.fixture(scope="module")
def atd_run(atd_layout, tmp_path_factory):
    out = tmp_path_factory.mktemp("results") / "r"
    result = run_cli("bench", "--data", atd_layout, "--methods", "repeat", "blend", "dis-warp", "--out", out)
    return result, out


# --- the official layout, through the real command line ---------------------------------------------


def test_official_layout_scores_equal_the_official_formulas(atd_layout, atd_run):
    result, out = atd_run
    assert result.returncode == 1, result.stderr  # some triplets failed, on purpose
    rows = pq.read_table(out / "per_triplet.parquet").to_pandas()
    assert pq.read_schema(out / "per_triplet.parquet").names == schema.BENCH_RESULTS.names
    assert len(rows) == 3 * len(ATD) and set(rows["profile"]) == {"atd12k"}
    checked = 0
    for triplet_id, (level, roi, motion, behavior, special) in ATD.items():
        for method in ("repeat", "blend", "dis-warp"):
            row = rows[(rows["method"] == method) & (rows["triplet_id"] == triplet_id)].iloc[0]
            assert row["level"] == level or special == "bad JSON"
            if special in FAILING:
                assert FAILING[special] in row["status"] and math.isnan(row["psnr"])
                continue
            assert row["status"] == "ok"
            assert list(row["general_motion"]) == ([motion] if isinstance(motion, str) else motion)
            assert list(row["behavior"]) == ([behavior] if isinstance(behavior, str) else behavior)
            f1, f2, f3 = (read_png(atd_layout / "test_2k_540p" / triplet_id / f"frame{n}.png") for n in (1, 2, 3))
            expected = official_scores(predictions(method, f1, f3), f2, roi, (1920, 1080))
            for key in ("psnr", "ssim", "ie") + (
                () if special in ("tiny RoI", "RoI outside") else ("roi_psnr", "roi_ssim")
            ):
                assert row[key] == pytest.approx(expected[key], abs=1e-6), (method, triplet_id, key)
            checked += 1
    assert checked == 3 * READABLE

    def row(method, triplet_id):
        return rows[(rows["method"] == method) & (rows["triplet_id"] == triplet_id)].iloc[0]

    tiny = row("blend", "Japan_v2_0_000005_s3")  # 10 px at 1920 wide -> 5 px at 960: no SSIM
    assert tiny["roi_w"] == 5 and math.isnan(tiny["roi_ssim"]) and not math.isnan(tiny["roi_psnr"])
    assert "smaller than the 7x7 SSIM window" in tiny["note"]
    outside = row("blend", "Japan_v2_0_000006_s3")
    assert (outside["roi_x"], outside["roi_y"], outside["roi_w"], outside["roi_h"]) == (850, 450, 110, 90)
    assert "clipped" in outside["note"]
    assert "annotator_comment" in row("repeat", "Japan_v2_0_000004_s3")["note"]
    assert math.isinf(row("repeat", "Japan_v2_0_000007_s3")["psnr"])  # a held drawing


def test_official_layout_summary_run_json_and_plots(atd_run):
    result, out = atd_run
    rows = pq.read_table(out / "per_triplet.parquet").to_pandas()
    summary = pd.read_csv(out / "summary.csv").set_index("method")
    assert list(summary.index) == ["repeat", "blend", "dis-warp"] and set(summary["profile"]) == {"atd12k"}
    for method in summary.index:
        ok = rows[(rows["method"] == method) & (rows["status"] == "ok")]
        finite = ok[np.isfinite(ok["psnr"])]
        assert summary.loc[method, "whole_psnr"] == pytest.approx(finite["psnr"].mean(), abs=1e-5)
        assert summary.loc[method, "whole_ssim"] == pytest.approx(ok["ssim"].mean(), abs=1e-5)
        for level, name in enumerate(schema.DIFFICULTIES):
            at_level = finite[finite["level"] == level]
            assert summary.loc[method, f"{name}_psnr"] == pytest.approx(at_level["psnr"].mean(), abs=1e-5)
        assert summary.loc[method, "failed"] == len(FAILING) and summary.loc[method, "triplets"] == len(ATD)
        assert summary.loc[method, "roi_n"] == READABLE  # the tiny RoI has a PSNR (no SSIM), the outside one is clipped
    assert summary.loc["repeat", "infinite_psnr"] == 1  # the held drawing, out of the mean
    assert summary.loc["dis-warp", "whole_psnr"] > summary.loc["blend", "whole_psnr"] + 3

    markdown = (out / "summary.md").read_text()
    assert "| Method | Whole | RoI | Easy | Medium | Hard |" in markdown
    blend = summary.loc["blend"]
    assert f"| blend | {blend['whole_psnr']:.2f} / {blend['whole_ssim']:.3f} |" in markdown
    assert (
        "by general motion tag" in markdown
        and "| Method | translation | rotation | scaling | deformation |" in markdown
    )
    breakdowns = pd.read_csv(out / "breakdowns.csv")
    tags = breakdowns[breakdowns["breakdown"].isin(["general_motion", "behavior"])]
    assert set(tags["group"]) >= {"translation", "rotation", "scaling", "deformation", "walking", "others"}
    regions = breakdowns[(breakdowns["breakdown"] == "region") & (breakdowns["method"] == "blend")].set_index("group")
    assert regions.loc["west", "n"] == 2 and regions.loc["east", "n"] == READABLE - 2  # Disney_* is west
    assert set(breakdowns.loc[breakdowns["breakdown"] == "motion", "group"]) <= {b[0] for b in MOTION_BINS}
    assert rows.loc[rows["status"] == "ok", "motion"].notna().all()  # measured with DIS for the official layout

    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "finished" and run["command"].startswith("atdkit bench --data")
    (profile,) = run["profiles"]
    assert profile["name"] == "atd12k" and "7x7 uniform" in profile["ssim"] and "AnimeInterp" in profile["source"]
    assert profile["rounding"] == "none" and run["precision"] == "fp32"
    assert run["methods"]["dis-warp"]["padding"] == "none" and run["methods"]["blend"]["weights"] == {}
    assert run["data"]["layout"] == "atd12k" and len(run["data"]["fingerprint"]) == 32
    assert {"torch", "numpy", "opencv", "scikit-image"} <= set(run["libraries"]) and run["atdkit"]
    for name in (
        "psnr_by_level.png",
        "psnr_distribution.png",
        "by_motion.png",
        "worst_repeat.png",
        "worst_blend.png",
        "worst_dis-warp.png",
    ):
        assert Image.open(out / name).size[0] > 300, name

    assert "unknown field 'annotator_comment' in 1 JSON file(s)" in result.stderr
    for special, reason in FAILING.items():
        triplet_id = next(i for i, v in ATD.items() if v[4] == special)
        assert f"failed: {triplet_id} (repeat, blend, dis-warp):" in result.stderr and reason in result.stderr
    assert "Traceback" not in result.stderr


# --- resuming ----------------------------------------------------------------------------------------


def test_resume_skips_what_was_scored_and_an_interrupted_run_keeps_its_rows(atd_layout, tmp_path):
    out = tmp_path / "r"
    calls = []

    def counting(stop_after=None):
        def load(weights, device):
            def interpolate(frame1, frame3, flows):
                calls.append(1)
                if stop_after is not None and len(calls) > stop_after:
                    raise KeyboardInterrupt
                return frame3

            return interpolate

        return Method("last", "returns frame3", load)

    with pytest.raises(KeyboardInterrupt):
        run_bench(atd_layout, [counting(stop_after=4)], out, device="cpu")
    assert not (out / "per_triplet.parquet").exists()
    with pytest.raises(BenchError, match="already holds benchmark results: pass --resume"):
        run_bench(atd_layout, ["repeat"], out, device="cpu")
    calls.clear()
    report = run_bench(atd_layout, [counting(), "repeat"], out, device="cpu", resume=True)
    assert (
        len(calls) == READABLE - 4 + READABLE
    )  # the 4 scored before the interruption are skipped; then the contact sheet
    rows = pq.read_table(out / "per_triplet.parquet").to_pandas()
    assert sorted(rows.groupby("method").size().items()) == [("last", len(ATD)), ("repeat", len(ATD))]
    assert [s["method"] for s in report.summary] == ["last", "repeat"]

    calls.clear()
    run_bench(atd_layout, [counting()], out, device="cpu", resume=True)
    assert len(calls) == READABLE  # nothing left to score but the contact sheet
    with pytest.raises(BenchError, match="scored under atd12k at 960x540, not standard at 960x540"):
        run_bench(atd_layout, ["repeat"], out, device="cpu", resume=True, profiles=["standard"])
    with pytest.raises(BenchError, match="not atd12k at 480x270"):
        run_bench(atd_layout, ["repeat"], out, device="cpu", resume=True, size=(480, 270))
    with pytest.raises(BenchError, match="--size 5x5: the atd12k profile's SSIM needs frames of at least 7x7"):
        run_bench(atd_layout, ["repeat"], out.with_name("tiny"), device="cpu", size=(5, 5))
    assert not out.with_name("tiny").exists()


# --- several protocols and perceptual metrics ----------------------------------------------------------


@needs_lpips
def test_several_protocols_with_lpips_and_cd_through_the_command_line(atd_layout, tmp_path, monkeypatch):
    monkeypatch.setenv("ATDKIT_WEIGHTS", str(tmp_path / "weights"))  # nothing there
    out = tmp_path / "r"
    asked = ("bench", "--data", atd_layout, "--methods", "blend", "dis-warp", "--profile", "atd12k", "rife", "eisai")
    asked += ("--metrics", "psnr", "ssim", "lpips", "cd", "--out", out)
    refused = run_cli(*asked)
    assert refused.returncode == 2 and not out.exists()
    message = " ".join(refused.stderr.split())
    assert refused.stderr.count("error") == 1 and "metric lpips" in message and "alexnet-owt-7be5be79.pth" in message
    assert "download.pytorch.org/models/alexnet-owt-7be5be79.pth" in message and "--weights alexnet=PATH" in message

    alexnet, _ = backbone_file(tmp_path, "alex", seed=5)
    result = run_cli(*asked, "--weights", f"alexnet={alexnet}")
    assert result.returncode == 1, result.stderr  # the broken triplets of the layout
    rows = pq.read_table(out / "per_triplet.parquet").to_pandas()
    assert len(rows) == 2 * 3 * len(ATD)
    ok = rows[rows["status"] == "ok"]
    assert len(ok) == 2 * 3 * READABLE and ok["lpips"].notna().all() and ok["cd"].notna().all()
    assert rows["lpips_vgg"].isna().all()  # not asked for

    network = LPIPS.from_files("alex", alexnet)
    checked = 0
    for triplet_id in ("Disney_v4_0_000001_s2", "Japan_v2_0_000003_s3"):
        f1, f2, f3 = (read_png(atd_layout / "test_2k_540p" / triplet_id / f"frame{n}.png") for n in (1, 2, 3))
        prediction = np.clip(predictions("blend", f1, f3).astype(np.float64), 0, 1)
        truth = f2 / 255.0
        tensor = lambda image: torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None]  # noqa: E731
        expected = {
            "atd12k": float(network(tensor(prediction) * 2 - 1, tensor(truth) * 2 - 1)),  # lpips's documented use
            "eisai": float(network(tensor(prediction), tensor(truth))),  # EISAI feeds [0, 1] as it is
        }
        for profile, lpips in expected.items():
            row = ok[(ok["method"] == "blend") & (ok["triplet_id"] == triplet_id) & (ok["profile"] == profile)].iloc[0]
            assert row["lpips"] == pytest.approx(lpips, abs=1e-6), (triplet_id, profile)
            assert row["cd"] == pytest.approx(chamfer_distance(prediction, truth), rel=1e-9)
            checked += 1
        assert expected["atd12k"] != pytest.approx(expected["eisai"], abs=1e-4)
    assert checked == 4

    summary = pd.read_csv(out / "summary.csv")
    assert [tuple(r) for r in summary[["method", "profile"]].values] == [
        (m, p) for m in ("blend", "dis-warp") for p in ("atd12k", "rife", "eisai")
    ]
    assert summary["lpips"].notna().all() and summary["cd"].notna().all() and summary["lpips_vgg"].isna().all()
    protocols = (out / "protocols.md").read_text()
    assert "| Method | atd12k | rife | eisai |" in protocols
    for title in ("## PSNR (dB)", "## SSIM", "## LPIPS", "## CD"):
        assert title in protocols
    blend = summary[summary["method"] == "blend"].set_index("profile")
    assert f"| blend | {blend.loc['atd12k', 'whole_psnr']:.2f} | {blend.loc['rife', 'whole_psnr']:.2f} |" in protocols
    markdown = (out / "summary.md").read_text()
    assert "## Profile `rife`" in markdown and "ECCV2022-RIFE, benchmark/ATD12K.py at f6d90d9" in markdown
    assert "| Method | LPIPS | CD |" in markdown
    run = json.loads((out / "run.json").read_text())
    assert [p["name"] for p in run["profiles"]] == ["atd12k", "rife", "eisai"]
    assert list(run["metrics"]) == ["psnr", "ssim", "ie", "lpips", "cd"]
    assert Image.open(out / "by_motion.png").size[0] > 300


def test_a_prediction_is_computed_once_per_group_of_profiles_that_feed_the_method_alike(atd_layout, tmp_path):
    shapes = []

    def load(weights, device):
        def interpolate(frame1, frame3, flows):
            shapes.append(tuple(frame1.shape[-2:]))
            return (frame1 + frame3) / 2

        return interpolate

    counted = Method("counted", "the blend, counted", load)
    run_bench(atd_layout, [counted], tmp_path / "r", device="cpu", profiles=["atd12k", "eisai", "rife", "standard"])
    # atd12k, eisai and standard see the 960x540 frames, rife's are padded by 2 rows above and below; then the
    # contact sheet predicts the worst triplets (all of them here) again, under the first profile
    assert sorted(set(shapes)) == [(540, 960), (544, 960)]
    assert shapes.count((544, 960)) == READABLE and shapes.count((540, 960)) == READABLE + min(READABLE, WORST)
    rows = pq.read_table(tmp_path / "r" / "per_triplet.parquet").to_pandas()
    ok = rows[rows["status"] == "ok"].set_index(["profile", "triplet_id"])
    assert len(ok) == 4 * READABLE
    atd12k, rife = ok.loc["atd12k"], ok.loc["rife"]
    assert (abs(atd12k["psnr"] - rife["psnr"]) < 0.05).all()  # the same blend, rounded to 8 bits by rife


def test_motion_measured_for_the_official_layout_is_kept_for_later_runs(tmp_path):
    root = tmp_path / "atd"
    tiny_atd_layout(root, 3)
    first = run_bench(root, ["repeat"], tmp_path / "r1", device="cpu")
    assert first.failed == 0
    cache = MotionCache(root)
    kept = pq.read_table(cache.path).to_pandas().set_index("triplet_id")
    rows = pq.read_table(tmp_path / "r1" / "per_triplet.parquet").to_pandas().set_index("triplet_id")
    assert sorted(kept.index) == sorted(rows.index) and (kept["motion"] > 0).all()
    assert np.allclose(kept.loc[rows.index, "motion"], rows["motion"])

    # A later run reads the cache (a value planted there comes back) and measures again what changed.
    planted = kept.reset_index().assign(motion=[99.0, 98.0, 97.0])
    write_table(cache.path, planted.to_dict("records"), schema.BENCH_MOTION)
    changed = root / "test_2k_540p" / planted["triplet_id"][2] / "frame3.png"
    write_png(changed, read_png(changed)[:, ::-1])  # same size, new content and modification time
    run_bench(root, ["repeat"], tmp_path / "r2", device="cpu")
    again = pq.read_table(tmp_path / "r2" / "per_triplet.parquet").to_pandas().set_index("triplet_id")["motion"]
    assert list(again[planted["triplet_id"][:2]]) == [99.0, 98.0]
    assert again[planted["triplet_id"][2]] != 97.0 and again[planted["triplet_id"][2]] > 0
    assert pq.read_table(cache.path).to_pandas().set_index("triplet_id").loc[planted["triplet_id"][2], "motion"] != 97.0


# --- atdkit datasets ---------------------------------------------------------------------------------


def atdkit_dataset(root, labels: bool, splits: bool, size=(640, 360)) -> dict:
    """Frames at ``size`` (not 960x540: the official resize applies), triplets.parquet, optional labels and splits."""
    rng = np.random.default_rng(5)
    truth = {}
    triplet_rows = []
    for i in range(5):
        triplet_id = f"clip_{i * 24:06d}_i0"
        frames = cartoon_triplet(rng, size)
        for n, image in enumerate(frames, 1):
            write_png(root / "frames" / triplet_id / f"frame{n}.png", image)
        truth[triplet_id] = frames
        triplet_rows.append(
            {
                "triplet_id": triplet_id,
                "source_id": "clip",
                "series": None,
                "frames": [i, i + 1, i + 2],
                "interval": 0,
                "timestamps": [0.0, 0.1, 0.2],
                "ssim_12": 0.8,
                "ssim_23": 0.8,
                "ssim_13": 0.7,
                "width": size[0],
                "height": size[1],
            }
        )
    write_table(root / "triplets.parquet", triplet_rows, schema.TRIPLETS)
    ids = sorted(truth)
    if labels:
        label_rows = []
        for i, triplet_id in enumerate(ids):
            label_rows.append(
                {
                    "triplet_id": triplet_id,
                    "n_labels": 3,
                    "n_eligible": 1 if i == 4 else 3,
                    "kept": i != 4,
                    "difficulty": schema.DIFFICULTIES[i % 3],
                    "roi_x": None if i == 3 else 100.5,
                    "roi_y": None if i == 3 else 60.0,
                    "roi_w": None if i == 3 else 300.0,
                    "roi_h": None if i == 3 else 200.0,
                    "general_motion": ["translation"],
                    "behavior": ["walking"],
                    "needs_review": False,
                }
            )
        write_table(root / "labels.parquet", label_rows, schema.LABELS)
    if splits:
        write_table(
            root / "splits.parquet",
            [{"triplet_id": t, "split": "train" if i == 0 else "test"} for i, t in enumerate(ids)],
            schema.SPLITS,
        )
    return truth


def test_atdkit_dataset_with_labels_and_a_split(tmp_path):
    truth = atdkit_dataset(tmp_path / "ds", labels=True, splits=True)
    report = run_bench(tmp_path / "ds", ["blend"], tmp_path / "r", device="cpu", save_frames=True)
    rows = pq.read_table(tmp_path / "r" / "per_triplet.parquet").to_pandas().set_index("triplet_id")
    ids = sorted(truth)
    assert list(rows.index) == ids[1:4]  # 0 is train, 4 is not kept
    for i, triplet_id in enumerate(ids[1:4], 1):
        row = rows.loc[triplet_id]
        assert row["level"] == i % 3
        # Resized with Pillow's Lanczos to 960x540, the RoI scaled from 640x360 by floor division.
        f1, f2, f3 = (np.asarray(Image.fromarray(f).resize(SIZE, Image.LANCZOS)) for f in truth[triplet_id])
        expected = official_scores(predictions("blend", f1, f3), f2, (100.5, 60.0, 300.0, 200.0), (640, 360))
        keys = ("psnr", "ssim", "ie") + (("roi_psnr", "roi_ssim") if i != 3 else ())
        for key in keys:
            assert row[key] == pytest.approx(expected[key], abs=1e-6), (triplet_id, key)
        saved = read_png(tmp_path / "r" / "frames" / "blend" / f"{triplet_id}.png")  # --save-frames: 8-bit
        expected_8bit = predictions("blend", f1, f3).astype(np.float64) * 255
        assert np.abs(saved - expected_8bit).max() <= 0.5 + 1e-4  # rounded (ties: either way)
        if i != 3:
            assert (row["roi_x"], row["roi_w"]) == (int(100.5 // (640 / 960)), int(300.0 // (640 / 960))) == (150, 450)
    assert math.isnan(rows.loc[ids[3], "roi_psnr"])  # no RoI labelled
    assert report.summary[0]["groups"]["roi"]["n"] == 2
    assert (
        run_bench(tmp_path / "ds", ["blend"], tmp_path / "all", device="cpu", split="all").summary[0]["triplets"] == 4
    )
    with pytest.raises(BenchError, match="one of train, test or all"):
        run_bench(tmp_path / "ds", ["blend"], tmp_path / "x", device="cpu", split="validation")


@pytest.mark.slow
def test_unlabelled_dataset_is_scored_under_whole_only(tmp_path):
    """What `atdkit demo` runs on the triplets it just extracted."""
    atdkit_dataset(tmp_path / "ds", labels=False, splits=False)
    report = run_bench(tmp_path / "ds", methods.weightless(), tmp_path / "r", device="cpu")
    assert any("no labels.parquet" in note for note in report.notes)
    rows = pq.read_table(tmp_path / "r" / "per_triplet.parquet").to_pandas()
    assert len(rows) == 5 * 3 and (rows["status"] == "ok").all()
    assert rows["level"].isna().all() and rows["roi_psnr"].isna().all()
    summary = pd.read_csv(tmp_path / "r" / "summary.csv").set_index("method")
    assert summary["whole_n"].eq(5).all() and summary["roi_n"].eq(0).all() and summary["easy_psnr"].isna().all()
    assert "unlabelled: Whole only" in (tmp_path / "r" / "summary.md").read_text()


# --- methods: registry, weights, padding ---------------------------------------------------------------


def test_registry_discovers_the_weightless_methods_and_lists_them():
    assert {"repeat", "blend", "dis-warp"} <= set(methods.available())
    assert methods.weightless() == [name for name, m in methods.available().items() if not m.weights]
    result = run_cli("bench", "--list")
    assert result.returncode == 0, result.stderr
    for name in ("repeat", "blend", "dis-warp"):
        assert name in result.stderr
    assert "no weights needed" in result.stderr


def test_weight_files_are_found_checked_and_explained_when_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("ATDKIT_WEIGHTS", str(tmp_path / "weights"))
    good = tmp_path / "mixer.pth"
    torch.save({"model_state_dict": {"mix": torch.tensor(0.5)}}, good)
    weight = WeightFile(
        "mixer", "mixer.pth", "https://example.org/mixer", keys=("model_state_dict",), sha256=methods.sha256(good)
    )
    seen = {}

    def load(weights, device):
        mix = torch.load(weights["mixer"], weights_only=True)["model_state_dict"]["mix"].item()

        def interpolate(frame1, frame3, flows):
            seen["shape"] = tuple(frame1.shape[-2:])
            return frame1 * (1 - mix) + frame3 * mix

        return interpolate

    mixer = Method("mixer", "blend by a weight from a checkpoint", load, fit=Padding(64), weights=(weight,))
    with pytest.raises(MethodError) as error:
        methods.resolve_weights(mixer, {})
    message = str(error.value)
    assert "mixer.pth" in message and str(tmp_path / "weights") in message and "https://example.org/mixer" in message
    assert "--weights mixer=PATH" in message and "\n" not in message
    assert "missing (get it from https://example.org/mixer)" in methods.weight_status(mixer)

    other = tmp_path / "other.pth"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(MethodError, match="sha256 differs"):
        methods.resolve_weights(mixer, {"mixer": other})
    unchecked = Method("mixer", "", load, weights=(WeightFile("mixer", "mixer.pth", "x", keys=("model_state_dict",)),))
    with pytest.raises(MethodError, match="checkpoint lacks model_state_dict"):
        methods.resolve_weights(unchecked, {"mixer": other})
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    with pytest.raises(MethodError, match="not a readable PyTorch checkpoint"):
        methods.resolve_weights(unchecked, {"mixer": tmp_path / "junk.pth"})

    (tmp_path / "weights").mkdir()
    good.rename(tmp_path / "weights" / "mixer.pth")  # found by its expected name
    assert "found at" in methods.weight_status(mixer)
    atdkit_dataset(tmp_path / "ds", labels=False, splits=False)
    run_bench(tmp_path / "ds", [mixer], tmp_path / "r", device="cpu")
    assert seen["shape"] == (576, 960)  # padded to multiples of 64
    rows = pq.read_table(tmp_path / "r" / "per_triplet.parquet").to_pandas()
    blend = run_bench(tmp_path / "ds", ["blend"], tmp_path / "b", device="cpu")
    assert rows["psnr"].mean() == pytest.approx(blend.summary[0]["groups"]["whole"]["psnr"], abs=1e-6)
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    assert run["methods"]["mixer"]["weights"]["mixer"]["sha256"] == weight.sha256
    assert run["methods"]["mixer"]["padding"] == Padding(64).describe()


def test_resize_rule_fits_the_input_and_restores_the_output(tmp_path):
    shapes = []

    def load(weights, device):
        def interpolate(frame1, frame3, flows):
            shapes.append(tuple(frame1.shape[-2:]))
            return frame1

        return interpolate

    atdkit_dataset(tmp_path / "ds", labels=False, splits=False)
    report = run_bench(
        tmp_path / "ds", [Method("resized", "", load, fit=Resize(128), batch_size=4)], tmp_path / "r", device="cpu"
    )
    assert shapes[0] == (512, 1024) and report.failed == 0  # 960x540 -> nearest multiples of 128
    rows = pq.read_table(tmp_path / "r" / "per_triplet.parquet").to_pandas()
    assert np.isfinite(rows["psnr"]).all()  # resized there and back: close to frame1, not equal


def test_precomputed_flows_reach_a_method_that_declares_them(tmp_path):
    """SGM flows of the official layout, resized to 960x540 like the official loader (nearest, displacements scaled)."""
    root = tmp_path / "atd"
    rng = np.random.default_rng(8)
    flows = {}
    for i in range(3):
        triplet_id = f"Japan_v2_0_00000{i}_s3"
        for n, image in enumerate(cartoon_triplet(rng), 1):
            write_png(root / "test_2k_540p" / triplet_id / f"frame{n}.png", image)
        (root / "test_2k_annotations" / triplet_id).mkdir(parents=True)
        (root / "test_2k_annotations" / triplet_id / f"{triplet_id}.json").write_text(
            json.dumps(
                {
                    "level": 0,
                    "motion_RoI": {"x": 0, "y": 0, "width": 960, "height": 540},
                    "image_size": [960, 540],
                    "general_motion_type": "translation",
                    "behavior": "others",
                }
            )
        )
        if i < 2:  # the last triplet has no flows
            flows[triplet_id] = rng.normal(0, 3, (2, 2, 270, 480))  # stored at half size, float64 like the release
            for name, flow in zip(("guide_flo13.npy", "guide_flo31.npy"), flows[triplet_id]):
                (root / "test_2k_pre_calc_sgm_flows" / triplet_id).mkdir(parents=True, exist_ok=True)
                np.save(root / "test_2k_pre_calc_sgm_flows" / triplet_id / name, flow)
    received = []

    def load(weights, device):
        def interpolate(frame1, frame3, flows):
            received.append(flows)
            return frame1

        return interpolate

    run_bench(root, [Method("needs-flows", "", load, flows="required")], tmp_path / "r", device="cpu")
    rows = pq.read_table(tmp_path / "r" / "per_triplet.parquet").to_pandas().set_index("triplet_id")
    assert (
        "precomputed flows guide_flo13.npy and guide_flo31.npy are missing"
        in rows.loc["Japan_v2_0_000002_s3", "status"]
    )
    flow13, flow31 = received[0]
    assert flow13.shape == flow31.shape == (1, 2, 540, 960)
    stored = flows["Japan_v2_0_000000_s3"]
    assert np.allclose(flow13[0, :, ::2, ::2].numpy(), stored[0] * 2)  # nearest: each stored value twice, doubled
    assert np.allclose(flow31[0, :, 1::2, 1::2].numpy(), stored[1] * 2)

    received.clear()
    run_bench(root, [Method("optional-flows", "", load, flows="optional")], tmp_path / "o", device="cpu")
    assert [f is None for f in received[:3]] == [False, False, True]  # what exists is given, the rest goes without
    for folder in (root / "test_2k_pre_calc_sgm_flows").iterdir():
        for file in folder.iterdir():
            file.unlink()
        folder.rmdir()
    (root / "test_2k_pre_calc_sgm_flows").rmdir()
    with pytest.raises(BenchError, match=r"needs precomputed flows, which .* lacks \(test_2k_pre_calc_sgm_flows/\)"):
        run_bench(root, [Method("needs-flows", "", load, flows="required")], tmp_path / "x", device="cpu")


# --- bad input, through the command line -----------------------------------------------------------------


def test_bad_input_is_one_line_each(atd_layout, tmp_path, capsys):
    out = ("--out", tmp_path / "r")
    result = run_cli("bench", "--data", atd_layout, "--methods", "nope", *out)  # the real process once
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "unknown method 'nope'; known methods: " in result.stderr
    assert all(name in result.stderr.split("known methods:")[1] for name in ("blend", "dis-warp", "repeat"))

    def fails(*args, expected):  # the same parser and handler, in this process
        assert main(["bench", *map(str, args)]) == 2
        error = capsys.readouterr().err
        assert error.startswith("atdkit bench: error:") and error.count("error") == 1, (
            error
        )  # one message (rich may wrap it)
        assert expected in " ".join(error.split()), error

    fails("--data", tmp_path, "--methods", "blend", *out, expected="neither the ATD-12K test layout")
    fails("--data", tmp_path / "absent", "--methods", "blend", *out, expected="no such folder")
    fails("--methods", "blend", *out, expected="--data required")
    fails("--data", atd_layout, "--methods", "blend", "--weights", "x=y.pth", *out, expected="they need no weights")
    if not torch.cuda.is_available():
        fails("--data", atd_layout, "--methods", "blend", "--device", "cuda", *out, expected="sees no CUDA GPU")
        fails("--data", atd_layout, "--methods", "blend", "--fp16", *out, expected="--fp16 needs a CUDA GPU")
    assert not (tmp_path / "r").exists()


# --- dis-warp measures interpolation quality -------------------------------------------------------------


def test_dis_warp_beats_blend_on_cartoon_motion_with_known_truth():
    rng = np.random.default_rng(21)
    gains = []
    for _ in range(4):
        f1, f2, f3 = cartoon_triplet(rng, travel=(20, 60))
        truth = f2 / 255.0
        blend = peak_signal_noise_ratio(truth, predictions("blend", f1, f3).astype(np.float64), data_range=1)
        warped = peak_signal_noise_ratio(
            truth, np.clip(predictions("dis-warp", f1, f3), 0, 1).astype(np.float64), data_range=1
        )
        gains.append(warped - blend)
    assert min(gains) > 2 and np.mean(gains) > 4, gains


@pytest.mark.slow
def test_dis_warp_beats_blend_on_real_animation():
    """Consecutive drawings of Hero (animated on twos): the middle drawing is the truth."""
    from atdkit.video import open_video

    clip = shared("clips", "hero_grease_pencil_twos.webm")
    drawings = []
    for frame in open_video(clip).frames():
        rgb = frame.rgb()
        if not drawings or np.abs(rgb.astype(np.int16) - drawings[-1]).mean() > 1.0:
            drawings.append(rgb)
    gains = []
    for start in range(0, len(drawings) - 2, 9):
        f1, f2, f3 = drawings[start : start + 3]
        truth = f2 / 255.0
        blend = peak_signal_noise_ratio(truth, predictions("blend", f1, f3).astype(np.float64), data_range=1)
        warped = peak_signal_noise_ratio(
            truth, np.clip(predictions("dis-warp", f1, f3), 0, 1).astype(np.float64), data_range=1
        )
        gains.append(warped - blend)
    assert len(gains) >= 20 and np.mean(gains) > 1.0, gains
