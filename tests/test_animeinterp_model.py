"""AnimeInterp network: the released checkpoint's layout, strict and safe loading, the forward pass on CPU.

Checkpoints are synthesised from the spec's key list (../shared/specs/animeinterp_state_dict.json:
the 220 tensors of anime_interp_full.ckpt) with random values, saved like the official script
saves them: ``{'model_state_dict': {'module.' + key: tensor}}``.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from atdkit.benchmark.methods.animeinterp import AnimeInterp, CheckpointError
from atdkit.benchmark.methods.animeinterp.rfr import resize_flow
from helpers import REPO

SPEC = REPO.parent / "shared" / "specs" / "animeinterp_state_dict.json"


@pytest.fixture(scope="module")
def spec_layout() -> list[tuple[str, list[int]]]:
    if not SPEC.is_file():
        pytest.skip(f"{SPEC} is absent (the specs live in ../shared/specs beside the repository)")
    spec = json.loads(SPEC.read_text())
    return [(name, shape) for name, shape, _ in spec["state_dict"]]


@pytest.fixture(scope="module")
def official_state(spec_layout) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {name: 0.05 * torch.randn(shape, generator=generator) for name, shape in spec_layout}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, official_state) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "anime_interp_full.ckpt"
    torch.save({"model_state_dict": {"module." + key: value for key, value in official_state.items()}}, path)
    return path


@pytest.fixture(scope="module")
def model(checkpoint) -> AnimeInterp:
    return AnimeInterp.from_checkpoint(checkpoint)


def test_layout_is_the_released_checkpoints(spec_layout):
    state = AnimeInterp().state_dict()
    assert [(name, list(tensor.shape)) for name, tensor in state.items()] == spec_layout
    assert sum(tensor.numel() for tensor in state.values()) == 6_208_706


def test_loads_strictly_with_and_without_prefix(tmp_path, checkpoint, official_state, model):
    assert not model.training
    loaded = model.state_dict()
    assert all(torch.equal(loaded[key], value) for key, value in official_state.items())
    bare = tmp_path / "bare.pt"
    torch.save(official_state, bare)  # a bare state dict, no prefix
    again = AnimeInterp.from_checkpoint(bare, device="cpu")
    assert all(torch.equal(again.state_dict()[key], value) for key, value in official_state.items())


def test_a_mismatching_state_dict_is_refused_naming_the_keys(tmp_path, official_state):
    state = dict(official_state)
    del state["flownet.attention2.conv1.weight"]
    state["flownet.cnet.conv1.weight"] = torch.zeros(64, 3, 7, 7)
    state["feat_ext.conv1.weight"] = torch.zeros(16, 3, 3, 3)
    path = tmp_path / "changed.ckpt"
    torch.save({"model_state_dict": {"module." + k: v for k, v in state.items()}}, path)
    with pytest.raises(CheckpointError) as error:
        AnimeInterp.from_checkpoint(path)
    message = str(error.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert "1 missing keys (flownet.attention2.conv1.weight)" in message
    assert "1 unexpected keys (flownet.cnet.conv1.weight)" in message
    assert "feat_ext.conv1.weight (16, 3, 3, 3) instead of (32, 3, 3, 3)" in message


def test_a_foreign_state_dict_is_refused(tmp_path):
    path = tmp_path / "vgg19.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3), "features.0.bias": torch.zeros(64)}, path)
    with pytest.raises(
        CheckpointError,
        match=r"not an AnimeInterp checkpoint: 220 missing keys \(.*\); "
        r"2 unexpected keys \(features.0.bias, features.0.weight\)",
    ):
        AnimeInterp.from_checkpoint(path)


def test_a_truncated_file_is_refused(tmp_path, checkpoint):
    path = tmp_path / "truncated.ckpt"
    path.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    with pytest.raises(
        CheckpointError, match=r"truncated.ckpt: not a readable PyTorch checkpoint, truncated or damaged"
    ):
        AnimeInterp.from_checkpoint(path)
    with pytest.raises(CheckpointError, match="no such file"):
        AnimeInterp.from_checkpoint(tmp_path / "absent.ckpt")


class Payload:
    """Unpickling this runs a shell command (what a malicious checkpoint does)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_with_an_executable_payload_is_refused_unexecuted(tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.ckpt"
    torch.save({"model_state_dict": Payload(marker)}, path)
    with pytest.raises(
        CheckpointError,
        match=r"evil.ckpt: refused: it holds more than tensors and loading it would run code from the file \(.*system",
    ):
        AnimeInterp.from_checkpoint(path)
    assert not marker.exists()
    # the same payload in a plain pickle (not a torch zip file) is refused too
    path.write_bytes(pickle.dumps({"model_state_dict": Payload(marker)}))
    with pytest.raises(CheckpointError, match="evil.ckpt: refused: it holds more than tensors"):
        AnimeInterp.from_checkpoint(path)
    assert not marker.exists()


def frames(height: int, width: int, batch: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two cartoon-like frames: flat colours and a square that moves 8 px right."""
    generator = torch.Generator().manual_seed(seed)
    frame0 = torch.rand(batch, 3, 1, 1, generator=generator).expand(batch, 3, height, width).clone()
    frame1 = frame0.clone()
    colour = torch.rand(batch, 3, 1, 1, generator=generator)
    frame0[:, :, 40:80, 30:70] = colour
    frame1[:, :, 40:80, 38:78] = colour
    return frame0, frame1


def test_forward_on_cpu_is_batch_consistent(model):
    # 132 rows: not a multiple of 8, so the flow network's resize path runs
    frame0, frame1 = frames(132, 128, batch=2)
    init = torch.zeros(2, 2, 132, 128)
    init[:, 0, 40:80, 30:70] = 8.0
    with torch.no_grad():
        frame, flow01, flow10 = model(frame0, frame1, init, -init, t=0.5)
        single = model(frame0[1:], frame1[1:], init[1:], -init[1:], t=0.5)
    assert frame.shape == (2, 3, 132, 128) and flow01.shape == flow10.shape == (2, 2, 132, 128)
    assert torch.isfinite(frame).all() and torch.isfinite(flow01).all()
    for whole, alone in zip((frame, flow01, flow10), single):
        torch.testing.assert_close(whole[1:], alone, atol=1e-4, rtol=1e-4)
    with torch.no_grad():  # the flow network alone, one direction
        forward = model.flownet((frame0[1:] - 0.5) / 0.5, (frame1[1:] - 0.5) / 0.5, init[1:])
    torch.testing.assert_close(forward, single[1], atol=1e-4, rtol=1e-4)


def test_initial_flow_counts_twice_and_none_means_zero(official_state):
    model = AnimeInterp()
    state = dict(official_state)
    for key in ("flownet.update_block.flow_head.conv2.weight", "flownet.update_block.flow_head.conv2.bias"):
        state[key] = torch.zeros_like(state[key])  # no refinement: the output is the starting flow
    model.load_state_dict(state)
    model.eval()
    frame0, frame1 = frames(136, 128)
    init = torch.empty(1, 2, 136, 128)
    init[:, 0], init[:, 1] = 3.0, -1.5
    with torch.no_grad():
        _, flow01, flow10 = model(frame0, frame1, init, None)
    inner = flow01[:, :, 16:-16, 16:-16]  # convex upsampling sees zero padding at the border
    torch.testing.assert_close(inner[:, 0], torch.full_like(inner[:, 0], 6.0), atol=1e-4, rtol=0)
    torch.testing.assert_close(inner[:, 1], torch.full_like(inner[:, 1], -3.0), atol=1e-4, rtol=0)
    assert torch.count_nonzero(flow10) == 0


def test_initial_flow_is_resized_nearest_and_scaled():
    flow = torch.zeros(1, 2, 16, 16)
    flow[:, 0, :, ::2] = 8.0  # stripes: a bilinear resize would blend them, nearest keeps the values
    flow[:, 1] = 4.0
    small = resize_flow(flow, (4, 4))
    assert set(small[0, 0].unique().tolist()) <= {0.0, 2.0} and torch.all(small[0, 1] == 1.0)


def test_warping_moves_frames_half_way(model):
    frame0, frame1 = frames(128, 128)
    flow01 = torch.zeros(1, 2, 128, 128)
    flow01[:, 0], flow01[:, 1] = 4.0, 2.0
    flow10 = torch.zeros(1, 2, 128, 128)
    with torch.no_grad():
        warped_frames, full, half, quarter = model.warp_to(frame0, frame1, flow01, flow10, t=0.5)
    assert [tensor.shape[1:] for tensor in (warped_frames, full, half, quarter)] == [
        (6, 128, 128),
        (64, 128, 128),
        (128, 64, 64),
        (192, 32, 32),
    ]
    torch.testing.assert_close(warped_frames[:, :3, 1:, 2:], frame0[:, :, :-1, :-2])  # moved (2, 1)
    assert torch.count_nonzero(warped_frames[:, :3, :1]) == 0 and torch.count_nonzero(warped_frames[:, :3, :, :2]) == 0
    torch.testing.assert_close(warped_frames[:, 3:], frame1)  # no motion


def test_sizes_it_cannot_take_are_refused(model):
    frame0, frame1 = frames(130, 128)
    with pytest.raises(ValueError, match="divisible by 4, got 128x130"):
        model(frame0, frame1)
    frame0, frame1 = frames(64, 128)
    with pytest.raises(ValueError, match="too small"):
        model(frame0[:, :, :64], frame1[:, :, :64])


def test_registered_as_benchmark_methods(checkpoint, tmp_path):
    from atdkit.benchmark.methods import MethodError, available

    methods = available()
    assert {name: [w.key for w in methods[name].weights] for name in methods if name.startswith("animeinterp")} == {
        "animeinterp": ["animeinterp", "vgg19"],
        "animeinterp-nosgm": ["animeinterp"],
        "animeinterp-norfr": ["animeinterp", "vgg19"],
    }
    # --sgm precomputed: the dataset's flows are required and VGG-19 is not
    precomputed = methods["animeinterp"].with_options({"sgm": "precomputed"})
    assert precomputed.flows == "required" and [w.key for w in precomputed.weights] == ["animeinterp"]
    assert precomputed.facts()["settings"] == {"sgm": "precomputed flows of the data"}
    assert methods["animeinterp"].with_options({"sgm_style": "western"}).facts()["settings"]["sgm_style"] == "western"
    with pytest.raises(MethodError, match="--sgm-style one of auto, japan, western"):
        methods["animeinterp"].with_options({"sgm_style": "korean"})
    assert methods["animeinterp-nosgm"].with_options({"sgm": "precomputed"}) is methods["animeinterp-nosgm"]
    interpolate = methods["animeinterp-nosgm"].load({"animeinterp": checkpoint}, torch.device("cpu"))
    frame0, frame1 = frames(128, 128)
    with torch.inference_mode():
        assert interpolate(frame0, frame1, None).shape == (1, 3, 128, 128)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"model_state_dict": {"conv.weight": torch.zeros(1)}}, foreign)
    with pytest.raises(MethodError, match="foreign.ckpt: not an AnimeInterp checkpoint"):
        methods["animeinterp-nosgm"].load({"animeinterp": foreign}, torch.device("cpu"))


@pytest.mark.slow
def test_interpolate_command_runs_the_full_method(tmp_path, checkpoint):
    import cv2

    from atdkit.benchmark.methods.animeinterp.sgm import VGGFeatures
    from helpers import run_cli

    torch.manual_seed(0)
    vgg = tmp_path / "vgg19.pth"
    torch.save(VGGFeatures().state_dict(), vgg)
    frame0, frame1 = frames(130, 136)  # 130 rows: padded to 132 for the GridNet, cropped back
    paths = []
    for name, frame in (("a.png", frame0), ("b.png", frame1)):
        image = (frame[0].permute(1, 2, 0).numpy() * 255).round().astype("uint8")
        cv2.imwrite(str(tmp_path / name), image[:, :, ::-1])
        paths.append(tmp_path / name)
    out = tmp_path / "middle.png"
    result = run_cli(
        "interpolate",
        *paths,
        "--method",
        "animeinterp",
        "--out",
        out,
        "--device",
        "cpu",
        "--weights",
        f"animeinterp={checkpoint}",
        f"vgg19={vgg}",
    )
    assert result.returncode == 0, result.stderr
    assert cv2.imread(str(out)).shape == (130, 136, 3)
    # the official files of precomputed flows feed animeinterp instead of SGM (no VGG-19 needed)
    from atdkit.pipelines.formats.atd12k import write_flows

    flow = torch.zeros(2, 130, 136)
    flow[0, 40:80, 30:70] = 8.0
    write_flows(tmp_path / "flows", flow.numpy(), -flow.numpy())
    result = run_cli(
        "interpolate",
        *paths,
        "--method",
        "animeinterp",
        "--flows",
        tmp_path / "flows",
        "--out",
        tmp_path / "pre.png",
        "--device",
        "cpu",
        "--weights",
        f"animeinterp={checkpoint}",
    )
    assert result.returncode == 0, result.stderr
    assert cv2.imread(str(tmp_path / "pre.png")).shape == (130, 136, 3)
    missing = run_cli(
        "interpolate",
        *paths,
        "--method",
        "animeinterp",
        "--out",
        tmp_path / "x.png",
        "--device",
        "cpu",
        "--weights",
        f"animeinterp={checkpoint}",
        f"vgg19={tmp_path / 'absent.pth'}",
    )
    assert missing.returncode == 2 and "absent.pth (given with --weights vgg19=...) does not exist" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and not (tmp_path / "x.png").exists()


@pytest.mark.slow
def test_sgm_line_style_is_picked_per_triplet_from_its_name(tmp_path, checkpoint):
    """As the official scripts: "western" line parameters for Disney triplets, "japan" otherwise; or fixed by option."""
    import cv2

    from atdkit.benchmark.methods import available
    from atdkit.benchmark.methods.animeinterp.sgm import VGGFeatures, compute_sgm, segment
    from helpers import shared

    image = cv2.imread(str(shared("pairs", "anime_keyframes_640x540", "sakura_panel_033.png")))
    other = cv2.imread(str(shared("pairs", "anime_keyframes_640x540", "sakura_panel_039.png")))
    frame0, frame1 = (np.ascontiguousarray(i[150:278, 200:336, ::-1]) for i in (image, other))  # 136x128 crops
    assert not np.array_equal(segment(frame0, "japan"), segment(frame0, "western")), (
        "the styles must segment these frames differently"
    )
    torch.manual_seed(0)
    vgg_path = tmp_path / "vgg19.pth"
    torch.save(VGGFeatures().state_dict(), vgg_path)
    weights = {"animeinterp": checkpoint, "vgg19": vgg_path}
    model, vgg = AnimeInterp.from_checkpoint(checkpoint), VGGFeatures.from_file(vgg_path)
    to_tensor = lambda frame: torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255  # noqa: E731
    inputs = [torch.cat([to_tensor(frame)] * 2) for frame in (frame0, frame1)]

    def expected(style):
        flows = [torch.from_numpy(flow)[None] for flow in compute_sgm(frame0, frame1, vgg, style)[:2]]
        return model.synthesise(to_tensor(frame0), to_tensor(frame1), *flows)[0]

    norfr = available()["animeinterp-norfr"]
    with torch.inference_mode():
        auto = norfr.with_options({}).load(weights, torch.device("cpu"))(
            *inputs, None, ids=["Disney_v4_0_000024_s2", "Japan_v2_0_161238_s3"]
        )
        torch.testing.assert_close(auto[0], expected("western"))
        torch.testing.assert_close(auto[1], expected("japan"))
        fixed = norfr.with_options({"sgm_style": "western"}).load(weights, torch.device("cpu"))(
            *inputs, None, ids=["a", "Japan_v2_0_1_s3"]
        )
        torch.testing.assert_close(fixed[1], expected("western"))


@pytest.mark.slow
def test_bench_runs_animeinterp_on_the_datas_precomputed_sgm_flows(tmp_path, checkpoint):
    """``atdkit bench --sgm precomputed``: the official test layout's guide flows feed the full model
    (no VGG-19 needed)."""
    from atdkit.pipelines.formats.atd12k import write_flows
    from helpers import run_cli

    triplet_id = "Disney_v4_0_000001_s2"
    frame0, frame1 = frames(540, 960)
    images = [
        (frame[0].permute(1, 2, 0).numpy() * 255).round().astype("uint8")
        for frame in (frame0, (frame0 + frame1) / 2, frame1)
    ]
    for n, image in enumerate(images, 1):
        path = tmp_path / "atd" / "test_2k_540p" / triplet_id / f"frame{n}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
    annotation = tmp_path / "atd" / "test_2k_annotations" / triplet_id / f"{triplet_id}.json"
    annotation.parent.mkdir(parents=True)
    annotation.write_text(
        json.dumps(
            {
                "level": 0,
                "motion_RoI": {"x": 0, "y": 0, "width": 400, "height": 300},
                "image_size": [1920, 1080],
                "general_motion_type": "translation",
                "behavior": "others",
            }
        )
    )
    flow = np.zeros((2, 540, 960), np.float32)
    flow[0, 40:80, 30:70] = 8.0
    write_flows(tmp_path / "atd" / "test_2k_pre_calc_sgm_flows" / triplet_id, flow, -flow)
    args = [
        "bench",
        "--data",
        tmp_path / "atd",
        "--methods",
        "animeinterp",
        "--device",
        "cpu",
        "--size",
        "320x180",
        "--weights",
        f"animeinterp={checkpoint}",
    ]
    result = run_cli(*args, "--sgm", "precomputed", "--out", tmp_path / "r")
    assert result.returncode == 0, result.stderr
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    assert run["methods"]["animeinterp"]["settings"] == {"sgm": "precomputed flows of the data"}
    assert run["methods"]["animeinterp"]["flows"] == "required"
    assert run["profiles"][0]["resize"].startswith("320x180,")  # --size: scored smaller than the profile's 960x540
    # without --sgm precomputed the same command needs VGG-19 for SGM, and says so in one line
    result = run_cli(*args, "--out", tmp_path / "r2")
    assert (
        result.returncode == 2
        and "needs vgg19-dcbb9e9d.pth" in result.stderr
        and len(result.stderr.strip().splitlines()) == 1
    )


@pytest.mark.slow
def test_bench_keeps_computed_sgm_flows_for_the_same_frames(tmp_path, checkpoint):
    """``--sgm-cache DIR``: each triplet's flows are computed once, then read back (by the other
    SGM method, by later runs) as long as the frames are the same; other frames are computed again."""
    from atdkit.benchmark.methods.animeinterp.sgm import VGGFeatures
    from atdkit.pipelines.formats.atd12k import read_flows, write_flows
    from helpers import SHAPES, cartoon, run_cli

    ids = ["Japan_v2_0_000001_s1", "Japan_v2_0_000002_s1"]
    for k, triplet_id in enumerate(ids):
        for n in (1, 2, 3):
            path = tmp_path / "atd" / "test_2k_540p" / triplet_id / f"frame{n}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(cartoon(SHAPES[k:], (n - 1) / 2)).save(path)
        annotation = tmp_path / "atd" / "test_2k_annotations" / triplet_id / f"{triplet_id}.json"
        annotation.parent.mkdir(parents=True)
        annotation.write_text(
            json.dumps(
                {
                    "level": 0,
                    "motion_RoI": {"x": 0, "y": 0, "width": 200, "height": 100},
                    "image_size": [256, 192],
                    "general_motion_type": "translation",
                    "behavior": "others",
                }
            )
        )
    torch.manual_seed(0)
    vgg = tmp_path / "vgg19.pth"
    torch.save(VGGFeatures().state_dict(), vgg)
    cache = tmp_path / "sgm"

    def bench(out: str, *methods: str, size: str = "320x180"):
        result = run_cli(
            "bench",
            "--data",
            tmp_path / "atd",
            "--methods",
            *methods,
            "--device",
            "cpu",
            "--size",
            size,
            "--weights",
            f"animeinterp={checkpoint}",
            f"vgg19={vgg}",
            "--sgm-cache",
            cache,
            "--out",
            tmp_path / out,
        )
        assert result.returncode == 0, result.stderr
        rows = pd.read_parquet(tmp_path / out / "per_triplet.parquet")
        return {(row.method, row.triplet_id): row.psnr for row in rows.itertuples()}

    first = bench("r1", "animeinterp", "animeinterp-norfr")
    (kept,) = cache.iterdir()
    assert sorted(p.name for p in kept.iterdir()) == ids and kept.name.endswith("-japan")
    assert len([p for p in kept.rglob("*") if p.is_file()]) == 6  # per triplet two flow files and the frames' digest
    # a later run reads them back: flows put in their place are what it uses
    flow13, flow31 = read_flows(kept / ids[0])
    assert np.abs(flow13).max() > 1  # SGM matched pieces: the flows are not zero
    write_flows(kept / ids[0], np.zeros_like(flow13), np.zeros_like(flow31))
    again = bench("r2", "animeinterp-norfr")
    assert again[("animeinterp-norfr", ids[1])] == first[("animeinterp-norfr", ids[1])]
    assert again[("animeinterp-norfr", ids[0])] != first[("animeinterp-norfr", ids[0])]
    # other frames under the same id (another dataset, or the frames changed): computed again
    before = read_flows(kept / ids[1])[0]
    Image.fromarray(cartoon(SHAPES[1:], 0.8)).save(tmp_path / "atd" / "test_2k_540p" / ids[1] / "frame3.png")
    bench("r3", "animeinterp-norfr")
    assert not np.array_equal(read_flows(kept / ids[1])[0], before)
    run = json.loads((tmp_path / "r3" / "run.json").read_text())
    assert run["methods"]["animeinterp-norfr"]["settings"]["sgm_cache"].startswith(str(cache.resolve()))
    # a DIR it cannot write to is refused in one line
    (tmp_path / "a-file").write_text("")
    result = run_cli(
        "bench",
        "--data",
        tmp_path / "atd",
        "--methods",
        "animeinterp-norfr",
        "--sgm-cache",
        tmp_path / "a-file",
        "--device",
        "cpu",
        "--weights",
        f"animeinterp={checkpoint}",
        f"vgg19={vgg}",
        "--out",
        tmp_path / "r5",
    )
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].endswith("a-file: a file, not a folder"), (
        result.stderr
    )
    # it keeps computed flows only
    result = run_cli(
        "bench",
        "--data",
        tmp_path / "atd",
        "--methods",
        "animeinterp",
        "--sgm",
        "precomputed",
        "--sgm-cache",
        cache,
        "--device",
        "cpu",
        "--weights",
        f"animeinterp={checkpoint}",
        "--out",
        tmp_path / "r4",
    )
    assert result.returncode == 2 and "--sgm-cache" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_forward_runs_under_half_precision_autocast(model, dtype):
    """The --fp16 path (autocast) on the CPU: mixed dtypes meet in splatting, correlation and sampling."""
    frame0, frame1 = frames(128, 128)
    flow = torch.zeros(1, 2, 128, 128)
    flow[:, 0, 40:80, 30:70] = 8.0
    with torch.inference_mode():
        expected = model(frame0, frame1, flow, -flow)[0]
        with torch.autocast("cpu", dtype=dtype):
            out = model(frame0, frame1, flow, -flow)[0]
    assert out.shape == expected.shape and torch.isfinite(out).all()
    assert (out.float() - expected).abs().mean() < 0.05
