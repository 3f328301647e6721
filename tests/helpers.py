"""What several test modules use: the real material in ../shared/data, the command line, and frames with known truth."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from rich.console import Console
from torch import nn

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TESTS = Path(__file__).resolve().parent
ARTIFACTS = REPO / "test-artifacts"  # screenshots of the browser tests, kept for a look after a failure


CHROMIUM = Path("/usr/bin/chromium")  # Debian's package: Playwright drives it and never downloads a browser
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def shared(*parts: str) -> Path:
    """A file under ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (the real test material lives in ../shared/data beside the repository)")
    return path


def run_atdkit(*args, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real command line in a fresh process (for what needs one: a kill, a separate interpreter)."""
    return subprocess.run(
        [sys.executable, "-m", "atdkit", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
    )


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args) -> Ran:
    """Run the real command line in this process, as ``run_atdkit`` would in a fresh one, and capture what it prints."""
    from atdkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([str(arg) for arg in args])
        except SystemExit as exit:  # argparse's own usage errors
            status = exit.code
    return Ran(status, out.getvalue(), err.getvalue())


def atdkit(capsys, *args) -> tuple[int, str]:
    """Run the command line in this process: (exit status, what it printed to stderr)."""
    from atdkit.cli import main

    capsys.readouterr()
    status = main([str(arg) for arg in args])
    return status, capsys.readouterr().err


def one_error(capsys, *args) -> str:
    """The single line a refused command prints (exit status 2, no traceback)."""
    status, err = atdkit(capsys, *args)
    err = err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, (status, err)
    return err


def subprocess_env() -> dict:
    """The environment of a test's own Python subprocess: this folder importable, so it can use these helpers."""
    import os

    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))}


def ffmpeg_decode(path: Path, pix_fmt: str = "rgb24") -> np.ndarray:
    """Every frame of ``path`` decoded by the ffmpeg binary, independently of atdkit's reader.

    ``pix_fmt`` rgb24 gives (N, H, W, 3); yuv420p gives the luma planes (N, H, W).
    """
    import av

    from atdkit.video import ffmpeg_executable

    with av.open(str(path)) as container:
        width, height = container.streams.video[0].width, container.streams.video[0].height
    raw = subprocess.run(
        [
            ffmpeg_executable(),
            "-v",
            "quiet",
            "-i",
            str(path),
            "-map",
            "0:v:0",
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            pix_fmt,
            "-",
        ],
        capture_output=True,
        check=False,
    ).stdout
    if pix_fmt == "rgb24":
        frame_bytes = width * height * 3
        count = len(raw) // frame_bytes
        return np.frombuffer(raw[: count * frame_bytes], np.uint8).reshape(count, height, width, 3)
    chroma = 2 * ((width + 1) // 2) * ((height + 1) // 2)
    frame_bytes = width * height + chroma
    count = len(raw) // frame_bytes
    frames = np.frombuffer(raw[: count * frame_bytes], np.uint8).reshape(count, frame_bytes)
    return frames[:, : width * height].reshape(count, height, width)


def write_labels(dataset: Path, difficulty: dict[str, str | None], tags: dict[str, list[str]] | None = None) -> None:
    """A consolidated labels.parquet: two eligible annotators per triplet, the given difficulty
    and general-motion tags (``tags``: triplet_id -> tags)."""
    from atdkit.store import Dataset

    rows = [
        {
            "triplet_id": t,
            "n_labels": 2,
            "n_eligible": 2,
            "kept": True,
            "difficulty": d,
            "general_motion": (tags or {}).get(t, []),
            "behavior": [],
            "needs_review": False,
        }
        for t, d in difficulty.items()
    ]
    Dataset(dataset).write("labels", rows)


def triplet_ids(dataset: Path) -> list[str]:
    from atdkit.store import Dataset

    return Dataset(dataset).read("triplets", required=True)["triplet_id"].to_pylist()


# --- images with known truth ---------------------------------------------------------------------------


BENCH_SIZE = (960, 540)


def cartoon_triplet(rng: np.random.Generator, size=BENCH_SIZE, travel=(15, 45)) -> list[np.ndarray]:
    """Flat outlined shapes on a gradient with props, each moving on a straight line and turning a
    little; frame2 is the exact drawing at t = 0.5, so the truth is known."""
    width, height = size
    ramp = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    top, bottom = rng.uniform(140, 230, 3), rng.uniform(50, 150, 3)
    background = np.ascontiguousarray(
        np.broadcast_to(top + (bottom - top) * ramp, (height, width, 3)).round().astype(np.uint8)
    )
    for _ in range(4):
        centre = tuple(int(v) for v in rng.uniform((0, 0), size))
        cv2.circle(
            background, centre, int(rng.uniform(0.03, 0.08) * width), rng.uniform(40, 220, 3).tolist(), -1, cv2.LINE_AA
        )
    cast = []
    for _ in range(4):
        radius = rng.uniform(0.03, 0.08) * width
        angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(4, 8)))
        outline = np.stack([np.cos(angles), np.sin(angles)], 1) * radius * rng.uniform(0.6, 1.0, (len(angles), 1))
        centre = rng.uniform((radius, radius), (width - radius, height - radius))
        heading = rng.uniform(0, 2 * np.pi)
        step = rng.uniform(*travel) * width / BENCH_SIZE[0] * np.array([np.cos(heading), np.sin(heading)])
        cast.append((outline, centre, step, rng.uniform(-0.2, 0.2), rng.uniform(0, 255, 3).tolist()))
    frames = []
    for t in (0.0, 0.5, 1.0):
        image = background.copy()
        for outline, centre, step, spin, colour in cast:
            c, s = math.cos(spin * t), math.sin(spin * t)
            points = [np.round((outline @ np.array([[c, s], [-s, c]]) + centre + step * t) * 16).astype(np.int32)]
            cv2.fillPoly(image, points, colour, cv2.LINE_AA, 4)
            cv2.polylines(image, points, True, (20, 20, 20), 2, cv2.LINE_AA, 4)
        frames.append(image)
    return frames


def write_png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


def read_png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def tiny_atd_layout(root: Path, count: int) -> None:
    """``count`` cartoon triplets at 960x540 in the official ATD-12K test layout."""
    rng = np.random.default_rng(4)
    for i in range(count):
        triplet_id = f"Japan_v2_0_00000{i}_s3"
        for n, image in enumerate(cartoon_triplet(rng), 1):
            write_png(root / "test_2k_540p" / triplet_id / f"frame{n}.png", image)
        annotation = root / "test_2k_annotations" / triplet_id / f"{triplet_id}.json"
        annotation.parent.mkdir(parents=True)
        annotation.write_text(
            json.dumps(
                {
                    "level": i % 3,
                    "motion_RoI": {"x": 200, "y": 100, "width": 800, "height": 600},
                    "image_size": [1920, 1080],
                    "general_motion_type": "translation",
                    "behavior": "others",
                }
            )
        )


INK = (30, 25, 35)
# (kind, centre, half-size, colour, motion frame0 -> frame1 in px)
SHAPES = [
    ("ellipse", (60, 60), (22, 16), (200, 60, 50), (14, 6)),
    ("quad", (170, 70), (24, 18), (60, 140, 210), (-10, 12)),
    ("ellipse", (80, 140), (18, 24), (70, 170, 80), (9, -7)),
    ("quad", (190, 150), (20, 16), (230, 190, 40), (-12, -5)),
    ("ellipse", (128, 100), (10, 12), (150, 90, 200), (0, 0)),  # holds still
]


def cartoon(shapes, t: float, size=(256, 192)) -> np.ndarray:
    """Flat-coloured, dark-outlined shapes on a flat background, each moved by t * its motion."""
    frame = np.empty((size[1], size[0], 3), np.uint8)
    frame[:] = (236, 228, 205)
    for kind, (x, y), (w, h), colour, (dx, dy) in shapes:
        cx, cy = int(x + t * dx), int(y + t * dy)
        if kind == "ellipse":
            cv2.ellipse(frame, (cx, cy), (w, h), 0, 0, 360, colour, -1, cv2.LINE_AA)
            cv2.ellipse(frame, (cx, cy), (w, h), 0, 0, 360, INK, 2, cv2.LINE_AA)
        else:
            corners = np.array(
                [[cx - w, cy - h], [cx + w, cy - h * 0.6], [cx + w * 0.7, cy + h], [cx - w * 0.8, cy + h * 0.8]],
                np.int32,
            )
            cv2.fillPoly(frame, [corners], colour, cv2.LINE_AA)
            cv2.polylines(frame, [corners], True, INK, 2, cv2.LINE_AA)
    return frame


def moving_square(height: int, width: int, batch: int = 1, seed: int = 0) -> list[torch.Tensor]:
    """Three frames of a flat background and a square moving 6 px right per frame."""
    generator = torch.Generator().manual_seed(seed)
    background = torch.rand(batch, 3, 1, 1, generator=generator).expand(batch, 3, height, width)
    colour = torch.rand(batch, 3, 1, 1, generator=generator)
    frames = []
    for step in range(3):
        frame = background.clone()
        frame[:, :, 8:24, 10 + 6 * step : 26 + 6 * step] = colour
        frames.append(frame)
    return frames


def check_odd_sizes_through_padding(model, fit) -> torch.Tensor:
    """Two 70x45 triplets through ``fit`` (to 96x64), ``model`` and back: the right shape, finite, each
    triplet as when alone; unpadded frames are refused. Returns the padded first frames."""
    from atdkit.benchmark.harness import fit_inputs

    frame0, _, frame1 = moving_square(45, 70, batch=2)
    (padded0, padded1), restore = fit_inputs(fit, [frame0, frame1], [False, False])
    assert padded0.shape[-2:] == (64, 96)
    with torch.inference_mode():
        middle = restore(model(padded0, padded1))
        alone = restore(model(padded0[1:], padded1[1:]))
    assert middle.shape == (2, 3, 45, 70) and torch.isfinite(middle).all()
    torch.testing.assert_close(middle[1:], alone, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="divisible by 32, got 70x45"):
        model(frame0, frame1)
    return padded0


# --- a tiny trainable method --------------------------------------------------------------------------


TRAIN_SIZE = (100, 60)  # training frames of the tiny runs: padded to 104x64 for validation (Padding(8))
STORED_FLOWS = "test_flows"  # the tiny method's flows: written beforehand into DATASET_DIR/test_flows/<triplet id>/


class TinyNet(nn.Module):
    """The two frames' mean corrected by small convolutions of the frames (with dropout: randomness a
    resumed run must reproduce) and of the flows; one layer unused."""

    def __init__(self, dropout: float = 0.2):
        super().__init__()
        self.frames = nn.Conv2d(6, 3, 3, padding=1)
        self.flows = nn.Conv2d(4, 3, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.unused = nn.Conv2d(3, 3, 1)  # like AnimeInterp's attention2: in the checkpoint, never in the forward pass

    def forward(self, frame1, frame3, flows):
        correction = self.dropout(self.frames(torch.cat([frame1, frame3], 1)))
        if flows is not None:
            correction = correction + self.flows(torch.cat(flows, 1) / 10)
        return (frame1 + frame3) / 2 + correction


def stored_flows():
    """Training flows read from DATASET_DIR/test_flows/<triplet id>/ (written by the test), needing no weights."""
    from atdkit.benchmark.methods import TrainingFlows

    def prepare(items, weights, device, dataset_root, advance):
        folders = {}
        for triplet_id, _ in items:
            folders[triplet_id] = Path(dataset_root) / STORED_FLOWS / triplet_id
            advance()
        return folders

    return TrainingFlows(f"flows stored in DATASET_DIR/{STORED_FLOWS}", (), prepare)


def tiny_method(flows=True, dropout: float = 0.2):
    """A trainable method around :class:`TinyNet`; ``flows``: True (stored flows), None/False (none)
    or a TrainingFlows."""
    from atdkit.benchmark.methods import Method, Padding, Trainable

    training_flows = stored_flows() if flows is True else (flows or None)
    return Method(
        "tiny",
        "a test network",
        load=lambda weights, device: None,
        fit=Padding(8),
        trainable=Trainable(lambda weights: TinyNet(dropout), "tiny", flows=training_flows),
    )


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def tiny_settings(**changes):
    from atdkit.benchmark.training import TrainSettings

    return TrainSettings(
        **{
            "size": TRAIN_SIZE,
            "crop": 32,
            "batch_size": 4,
            "steps": 6,
            "save_every": 2,
            "val_fraction": 0.25,
            "workers": 0,
            "device": "cpu",
            **changes,
        }
    )


# --- the annotation app under Streamlit's AppTest -------------------------------------------------------


APP = REPO / "annotation_ui" / "streamlit_app.py"


def start_app(dataset: Path, person: str | None = "alice", *options: str, **query: str):
    """The app as ``streamlit run annotation_ui -- --dataset DATASET ...`` would start it, after one run."""
    from streamlit.testing.v1 import AppTest

    sys.argv = ["streamlit_app.py", "--dataset", str(dataset), *options]
    app = AppTest.from_file(str(APP), default_timeout=60)
    if person:
        app.query_params["annotator"] = person
    app.query_params.update(query)
    return app.run()


def field(widgets, label: str):
    """The widget of that label (the form's widget keys change from triplet to triplet)."""
    return next(w for w in widgets if w.label == label)


def fill(app, eligible="yes", difficulty="medium", roi=None, reason=None, motion=(), behavior=()):
    app.button(key=f"label_eligible_{eligible}").click().run()
    if eligible == "no":  # the other fields are disabled then
        if reason:
            field(app.selectbox, "Why not eligible?").set_value(reason)
        return app.run()
    app.button(key=f"label_difficulty_{difficulty}").click().run()
    for name, value in zip(("x", "y", "width", "height"), roi or ()):
        field(app.number_input, f"RoI {name}").set_value(value)
    field(app.pills, "General motion").set_value(list(motion))
    field(app.pills, "Character behaviour").set_value(list(behavior))
    return app.run()


def submit(app):
    app.button(key="label_submit").click().run()
    assert not app.exception, app.exception
    return app


def label_in_own_process(dataset: str, person: str, count: int) -> None:
    """``count`` labels submitted by ``person`` through the app (run in a process of its own by a test)."""
    app = start_app(Path(dataset), person)
    for _ in range(count):
        submit(fill(app, difficulty="medium", roi=(5, 5, 30, 30)))
        assert not app.error, [e.value for e in app.error]


# --- LPIPS: the lpips package, torchvision-format ImageNet backbones with seeded random weights ---------------

needs_lpips = pytest.mark.skipif(
    importlib.util.find_spec("lpips") is None,
    reason="the lpips package is not installed (pip install --no-deps lpips==0.1.4, as the README's Quick start does)",
)


def torchvision_alexnet_features() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2),
        nn.ReLU(True),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2),
        nn.ReLU(True),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1),
        nn.ReLU(True),
        nn.Conv2d(384, 256, 3, padding=1),
        nn.ReLU(True),
        nn.Conv2d(256, 256, 3, padding=1),
        nn.ReLU(True),
        nn.MaxPool2d(3, 2),
    )


def torchvision_vgg16_features() -> nn.Sequential:
    layers, channels = [], 3
    for width in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if width == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(True)]
            channels = width
    return nn.Sequential(*layers)


BACKBONES = {"alex": torchvision_alexnet_features, "vgg": torchvision_vgg16_features}


def backbone_file(tmp_path, net: str, seed: int):
    """A torchvision-format weight file with seeded random weights (and classifier keys, which are ignored)."""
    torch.manual_seed(seed)
    state = {f"features.{key}": value for key, value in BACKBONES[net]().state_dict().items()}
    state["classifier.1.weight"] = torch.zeros(2, 2)
    path = tmp_path / f"{net}-random.pth"
    torch.save(state, path)
    return path, state


Layout = list[tuple[str, tuple[int, ...]]]  # a checkpoint's (key, shape)s, as a release holds them


def rife_block_layout(name: str, inputs: int, width: int, outputs: int) -> Layout:
    """One RIFE 4.x IFBlock as the releases hold it: two stride-2 convolutions, eight ResConvs (with their
    beta), a transposed 4x4 convolution to 4 x ``outputs`` channels."""
    layout = [
        (f"{name}.conv0.0.0.weight", (width // 2, inputs, 3, 3)),
        (f"{name}.conv0.0.0.bias", (width // 2,)),
        (f"{name}.conv0.1.0.weight", (width, width // 2, 3, 3)),
        (f"{name}.conv0.1.0.bias", (width,)),
    ]
    for j in range(8):
        layout += [
            (f"{name}.convblock.{j}.beta", (1, width, 1, 1)),
            (f"{name}.convblock.{j}.conv.weight", (width, width, 3, 3)),
            (f"{name}.convblock.{j}.conv.bias", (width,)),
        ]
    return layout + [
        (f"{name}.lastconv.0.weight", (width, 4 * outputs, 4, 4)),
        (f"{name}.lastconv.0.bias", (4 * outputs,)),
    ]


def rife_blocks_layout(inputs: list[int], widths: list[int], outputs: int) -> Layout:
    """``block0``, ``block1``, ... of a RIFE 4.x flownet.pkl (RIFE 4.6's: [7, 12, 12, 12], [192, 128, 96, 64], 6)."""
    return [
        entry for i, (n, w) in enumerate(zip(inputs, widths)) for entry in rife_block_layout(f"block{i}", n, w, outputs)
    ]
