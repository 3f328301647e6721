"""``atdkit bench``: score interpolation methods on DATA the way the paper's Table 1 did, under one or
several published protocols at once.

For each method, and each group of profiles that feed it the same frames (:attr:`Profile.input_key`):
triplets are read and resized ahead by background threads (their motion measured when the data has
none, once, and kept for later runs: :mod:`.motion_cache`), fed to the method in batches (as large as
it allows, one image size per batch), padded as the profile pads them and fitted to what the method
accepts (both undone on the output), scored under every profile of the group
(:mod:`atdkit.benchmark.scoring`: PSNR, SSIM, IE and the perceptual distances asked for), and
committed to the results folder in parts, so that an interrupted run resumes (``--resume``) where it
stopped. A triplet that cannot be read or scored is a row with the reason in ``status``; the run goes on.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

import atdkit
from atdkit.benchmark import figures, results
from atdkit.benchmark import methods as registry
from atdkit.benchmark import summary as summaries
from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.data import BenchData, DataError, Loaded, NeighbourReader, Triplet, load_triplet, open_data
from atdkit.benchmark.methods import Method, MethodError, Padding, Resize
from atdkit.benchmark.motion_cache import MotionCache
from atdkit.benchmark.scoring.lpips import LPIPSError
from atdkit.benchmark.scoring.profiles import DEFAULT_PROFILE, PROFILES, Profile
from atdkit.benchmark.scoring.scores import BASIC, METRICS, PERCEPTUAL, Perceptual, score
from atdkit.images import write_image
from atdkit.pipelines.formats.atd12k import TEST_FLOWS
from atdkit.progress import RateColumn
from atdkit.store import Dataset, DatasetBusyError

COMMIT_ROWS, COMMIT_SECONDS = 64, 10.0  # rows reach disk at least this often


class BenchError(Exception):
    """The run cannot start as asked; the message is one line."""


@dataclass
class BenchReport:
    out: Path
    summary: list[dict]  # per (method, profile), as results.summarise gives it
    device: str
    size: tuple[int, int]  # (W, H) the frames were scored at under the first profile
    profiles: list[str]
    notes: list[str] = field(default_factory=list)  # warnings about the data and the device
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (method, triplet_id, reason)

    @property
    def failed(self) -> int:
        return sum(s["failed"] for s in self.summary if s["profile"] == self.profiles[0])


def choose_device(name: str, fp16: bool = False) -> tuple[torch.device, str | None]:
    """``auto`` | ``cuda`` | ``cpu`` -> the torch device, and a note when falling back to the CPU."""
    available = torch.cuda.is_available()
    if name == "cuda" and not available:
        raise BenchError(
            f"--device cuda: PyTorch {torch.__version__} sees no CUDA GPU (a CPU-only build, or no driver)"
        )
    if name not in ("auto", "cuda", "cpu"):
        raise BenchError(f"--device must be auto, cuda or cpu, got {name!r}")
    device = torch.device("cuda" if name != "cpu" and available else "cpu")
    if fp16 and device.type != "cuda":
        raise BenchError("--fp16 needs a CUDA GPU (half precision on the CPU is slow and not what papers report)")
    note = None
    if device.type == "cpu":
        why = "no CUDA GPU found" if name == "auto" else "--device cpu"
        note = (
            f"running on the CPU ({why}, {torch.get_num_threads()} threads): "
            "fine for weightless methods, slow for networks"
        )
    return device, note


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({os.cpu_count()} cores)"


def prefetch(items: Iterable, load: Callable, workers: int, ahead: int) -> Iterator:
    """``load(item)`` for every item, in order, computed up to ``ahead`` items early by ``workers`` threads."""
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="bench-load") as pool:
        iterator = iter(items)
        pending = deque(pool.submit(load, item) for item in islice(iterator, max(1, ahead)))
        try:
            while pending:
                result = pending.popleft().result()
                for item in islice(iterator, 1):
                    pending.append(pool.submit(load, item))
                yield result
        finally:
            for future in pending:
                future.cancel()


def fit_inputs(
    fit: Padding | Resize | None, tensors: list[torch.Tensor | None], flow_mask: list[bool]
) -> tuple[list, Callable]:
    """Fit (B, C, H, W) tensors to a method's rule; returns them and the function that undoes it on the output.

    ``flow_mask`` marks the flow tensors, whose displacements scale with a resize.
    """
    height, width = next(t for t in tensors if t is not None).shape[-2:]
    if fit is None:
        return tensors, lambda out: out
    if isinstance(fit, Padding):
        pad_w, pad_h = -width % fit.multiple, -height % fit.multiple
        padded = [None if t is None else F.pad(t, (0, pad_w, 0, pad_h), mode=fit.mode) for t in tensors]
        return padded, lambda out: out[..., :height, :width]
    new_w, new_h = (max(fit.multiple, round(v / fit.multiple) * fit.multiple) for v in (width, height))

    def resize(t: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return F.interpolate(t, size=size, mode="bilinear", align_corners=False, antialias=True)

    fitted = []
    for t, is_flow in zip(tensors, flow_mask):
        if t is not None and is_flow:
            t = resize(t, (new_h, new_w)) * torch.tensor([new_w / width, new_h / height], device=t.device).view(
                1, 2, 1, 1
            )
        elif t is not None:
            t = resize(t, (new_h, new_w))
        fitted.append(t)
    return fitted, lambda out: resize(out, (height, width))


def _row(method: str, item: Loaded | Triplet, profile: str, status: str, notes: Iterable[str] = (), **values) -> dict:
    triplet = item.triplet if isinstance(item, Loaded) else item
    motion, occlusion = (item.motion, item.occlusion) if isinstance(item, Loaded) else (None, None)
    row = {
        "method": method,
        "triplet_id": triplet.triplet_id,
        "level": triplet.level,
        "general_motion": list(triplet.general_motion),
        "behavior": list(triplet.behavior),
        "motion": motion,
        "occlusion": occlusion,
        "region": triplet.region,
        "status": status,
        "profile": profile,
    }
    notes = [*triplet.notes, *(item.notes if isinstance(item, Loaded) else ()), *notes]
    row["note"] = "; ".join(notes) if notes else None
    row.update(values)
    return row


class Runner:
    """One method's pass over the triplets for profiles that feed it the same frames: batches in, rows out."""

    def __init__(
        self,
        method: Method,
        interpolate,
        profiles: list[Profile],
        device: torch.device,
        fp16: bool,
        perceptual: Perceptual | None,
    ):
        self.method, self.interpolate, self.profiles = method, interpolate, profiles
        self.device, self.fp16, self.perceptual = device, fp16, perceptual
        self.frames_of = profiles[0].model_frames  # the group's profiles feed the method alike

    def inputs(self, batch: list[Loaded]) -> tuple[list[torch.Tensor | None], Callable]:
        """The batch as the method is fed it: frame1, frame3, flow13, flow31 (None without flows) and, for
        four-frame methods, frame0 and frame4, padded and fitted; and the function that undoes both."""
        frames = torch.from_numpy(np.stack([self.frames_of(item.frames) for item in batch])).to(self.device)
        frames = frames.permute(0, 1, 4, 2, 3)  # (B, frame1, frame2, frame3, 3, H, W)
        with_flows = batch[0].flows is not None and all(item.flows is not None for item in batch)
        flows = torch.from_numpy(np.stack([item.flows for item in batch])).to(self.device) if with_flows else None
        if flows is not None and flows.shape[-2:] != frames.shape[-2:]:  # the profile resized the frames
            height, width = frames.shape[-2:]
            scale = torch.tensor([width / flows.shape[-1], height / flows.shape[-2]], device=flows.device)
            flows = F.interpolate(flows.flatten(0, 1), size=(height, width), mode="bilinear", align_corners=False)
            flows = (flows * scale.view(1, 2, 1, 1)).unflatten(0, (len(batch), 2))
        tensors = [frames[:, 0], frames[:, 2], *((None, None) if flows is None else flows.unbind(1))]
        if self.method.neighbours:  # frame0 and frame4, fed like frame1 and frame3
            outer = np.stack([self.frames_of(item.neighbours) for item in batch])
            tensors += torch.from_numpy(outer).to(self.device).permute(0, 1, 4, 2, 3).unbind(1)
        tensors, unpad = self.profiles[0].pad(tensors)
        fitted, restore = fit_inputs(self.method.fit, tensors, [False, False, True, True, False, False][: len(tensors)])
        return fitted, lambda out: unpad(restore(out))

    def prepare(self, item: Loaded) -> None:
        """Let the method work ahead on a triplet of a later batch, when it can (``interpolate.prepare``:
        AnimeInterp's SGM flows); called from the reading threads while the method runs on earlier batches."""
        prepare = getattr(self.interpolate, "prepare", None)
        if prepare is None or item.problem:
            return
        with contextlib.suppress(Exception):  # the batch meets the problem again and fails the triplet with it
            frame1, frame3 = self.inputs([item])[0][:2]
            prepare(frame1, frame3, [item.triplet.triplet_id])

    def predict(self, batch: list[Loaded]) -> tuple[np.ndarray, float]:
        """Middle frames (B, H, W, 3) float32 at the group's scored size, and the method's seconds for the batch."""
        fitted, restore = self.inputs(batch)
        frame1, frame3, flow13, flow31 = fitted[:4]
        flows = None if flow13 is None else (flow13, flow31)
        started = time.perf_counter()
        half = torch.autocast("cuda", dtype=torch.float16) if self.fp16 else contextlib.nullcontext()
        extra = {"ids": [item.triplet.triplet_id for item in batch]} if self.method.takes_ids else {}
        if self.method.neighbours:
            extra["neighbours"] = tuple(fitted[4:])
        with torch.inference_mode(), half:
            middle = self.interpolate(frame1, frame3, flows, **extra)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - started
        middle = restore(middle.float()).permute(0, 2, 3, 1).cpu().numpy()
        return middle, seconds

    def score(self, item: Loaded, prediction: np.ndarray, seconds: float, frames_dir: Path | None) -> list[dict]:
        """The triplet's rows, one per profile of the group (thread-safe); with ``frames_dir``, the prediction
        (as the group's first profile scores it) is saved there too."""
        triplet, truth = item.triplet, self.frames_of(item.frames)[1]
        if frames_dir:
            save_prediction(frames_dir / f"{triplet.triplet_id}.png", self.profiles[0].prepare(prediction))
        rows = []
        for profile in self.profiles:
            scores = score(
                prediction, truth, profile, self.perceptual, triplet.roi, triplet.image_size or item.source_size
            )
            roi = dict(zip(("roi_x", "roi_y", "roi_w", "roi_h"), scores.roi)) if scores.roi else {}
            values = {
                name: getattr(scores, name) for name in ("psnr", "ssim", "ie", "roi_psnr", "roi_ssim", *PERCEPTUAL)
            }
            rows.append(
                _row(self.method.name, item, profile.name, "ok", scores.notes, seconds=seconds, **values, **roi)
            )
        return rows

    def failed(self, item: Loaded | Triplet, reason: str) -> list[dict]:
        return [_row(self.method.name, item, profile.name, reason) for profile in self.profiles]

    def submit(self, batch: list[Loaded], pool: ThreadPoolExecutor, frames_dir: Path | None) -> list[Future]:
        """Predict ``batch`` here and score it on ``pool``: futures of each triplet's rows, in order."""
        try:
            middle, seconds = self.predict(batch)
        except Exception as error:  # a method failing on some input fails those triplets, not the run
            reason = f"{self.method.name} failed: {type(error).__name__}: {error}".replace("\n", " ")
            return [_done(self.failed(item, reason)) for item in batch]
        return [
            pool.submit(self.score, item, prediction, seconds / len(batch), frames_dir)
            for item, prediction in zip(batch, middle)
        ]


def _done(rows: list[dict]) -> Future:
    future: Future = Future()
    future.set_result(rows)
    return future


def batches(loaded: Iterable[Loaded], size: int, failed: Callable[[Loaded], None]) -> Iterator[list[Loaded]]:
    """Readable triplets grouped up to ``size``, one image size per batch; unreadable ones go to ``failed``."""
    batch: list[Loaded] = []
    for item in loaded:
        if item.problem:
            failed(item)
            continue
        if batch and (
            len(batch) == size
            or item.frames.shape != batch[0].frames.shape
            or (item.flows is None) != (batch[0].flows is None)
        ):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def save_prediction(path: Path, prediction: np.ndarray) -> None:
    write_image(path, np.round(np.clip(prediction, 0, 1) * 255).astype(np.uint8))


def resolve_methods(names: Sequence[str | Method]) -> list[Method]:
    chosen = []
    for name in names:
        method = name if isinstance(name, Method) else registry.get(name)
        if method.name not in [m.name for m in chosen]:
            chosen.append(method)
    if not chosen:
        raise BenchError(f"no method given; known methods: {', '.join(registry.available())}")
    return chosen


def resolve_profiles(names: Sequence[str], size: tuple[int, int] | None) -> list[Profile]:
    """The profiles asked for, in order, at ``size`` when given; BenchError for an unknown name or a size too small."""
    chosen = []
    for name in dict.fromkeys(names or (DEFAULT_PROFILE,)):
        if name not in PROFILES:
            raise BenchError(f"unknown profile {name!r}; profiles: {', '.join(PROFILES)}")
        profile = PROFILES[name] if size is None else PROFILES[name].at_size(size)
        if min(profile.size) < profile.ssim_window:
            raise BenchError(
                f"--size {profile.size[0]}x{profile.size[1]}: the {name} profile's SSIM needs frames "
                f"of at least {profile.ssim_window}x{profile.ssim_window}"
            )
        chosen.append(profile)
    return chosen


def resolve_metrics(names: Sequence[str], given: dict[str, Path]) -> tuple[list[str], dict[str, Path]]:
    """The metrics asked for (psnr, ssim and ie always among them) and the weight files they need, found;
    BenchError (one line naming the file and where to get it) otherwise."""
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise BenchError(f"unknown metric {unknown[0]!r}; metrics: {', '.join(METRICS)}")
    chosen = list(dict.fromkeys([*BASIC, *names]))
    paths = {}
    for name in chosen:
        weight = METRICS[name][1]
        if weight is not None:
            path = registry.locate(weight, given)
            if path is None:
                raise BenchError(registry.missing_message(f"metric {name}", weight, given))
            paths[weight.key] = path
    return chosen, paths


def run_bench(
    data: str | Path,
    methods: Sequence[str | Method],
    out: str | Path,
    *,
    profiles: Sequence[str] = (DEFAULT_PROFILE,),
    metrics: Sequence[str] = BASIC,
    size: tuple[int, int] | None = None,
    device: str = "auto",
    weights: dict[str, Path] | None = None,
    split: str | None = None,
    resume: bool = False,
    save_frames: bool = False,
    fp16: bool = False,
    workers: int | None = None,
    options: dict[str, str] | None = None,
    console: Console | None = None,
    command: str | None = None,
) -> BenchReport:
    """Score ``methods`` (names or :class:`Method` declarations) on ``data`` into ``out``; see the module doc.

    ``data``: the ATD-12K test layout or an atdkit dataset (labelled or not). ``profiles``: the scoring
    protocols (:data:`PROFILES`), the first one leads the terminal summary and the plots. ``metrics``: beside
    psnr, ssim and ie, perceptual distances (:data:`METRICS`). ``size``: (W, H) frames are scored at instead
    of the profiles' 960x540 (recorded in run.json). ``options``: the methods' run option values by key
    (``Option.key``). Raises BenchError (one line) when the run cannot start; per-triplet problems become
    failed rows instead.
    """
    console = console or Console(stderr=True)
    scoring = resolve_profiles(profiles, size)
    weights = {key: Path(path) for key, path in (weights or {}).items()}
    try:
        chosen = [method.with_options(options or {}) for method in resolve_methods(methods)]
        known_keys = {name for m in chosen for w in m.weights for name in w.names} | {
            weight.key for name in metrics if name in METRICS and (weight := METRICS[name][1])
        }
        for key in weights:
            if key not in known_keys:
                raise BenchError(
                    f"--weights {key}=...: none of the methods and metrics asked for uses a weight file called {key}"
                    + (f" (they use: {', '.join(sorted(known_keys))})" if known_keys else " (they need no weights)")
                )
        torch_device, device_note = choose_device(device, fp16)
        for method in chosen:
            if method.needs_gpu and torch_device.type != "cuda":
                raise BenchError(f"method {method.name} needs a CUDA GPU; this run is on the CPU")
        weight_paths = {m.name: registry.resolve_weights(m, weights) for m in chosen}
        metric_names, metric_paths = resolve_metrics(metrics, weights)
        perceptual = Perceptual.load(metric_names, metric_paths, torch_device)
        bench_data = open_data(data, split)
    except (MethodError, DataError, CheckpointError, LPIPSError) as error:
        raise BenchError(str(error)) from None
    for method in chosen:
        if method.flows == "required" and not bench_data.has_flows:
            raise BenchError(
                f"method {method.name} needs precomputed flows, which {bench_data.root} lacks ({TEST_FLOWS}/)"
            )
    notes = [*bench_data.warnings, *([device_note] if device_note else [])]
    for note in notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)

    out = Path(out)
    store = results.ResultsDir(out)
    fingerprint = bench_data.fingerprint()
    context = {
        "atdkit": atdkit.__version__,
        "command": command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "status": "running",
        "libraries": library_versions(),
        "device": {"name": device_name(torch_device), "note": device_note},
        "precision": "fp16 autocast" if fp16 else "fp32",
        "profiles": [profile.facts() for profile in scoring],
        "metrics": {
            name: registry.weight_facts(metric_paths[METRICS[name][1].key]) if METRICS[name][1] else {}
            for name in metric_names
        },
        "data": {
            "path": str(bench_data.root.resolve()),
            "layout": bench_data.layout,
            "split": bench_data.split,
            "triplets": len(bench_data.triplets),
            "labelled": bench_data.labelled,
            "flows": bench_data.has_flows,
            "fingerprint": fingerprint,
        },
        "methods": {},
    }
    groups = list(
        {profile.input_key: [p for p in scoring if p.input_key == profile.input_key] for profile in scoring}.values()
    )
    try:
        with Dataset(out).writing():
            store.check_start(resume, context)
            if resume and store.run_json.exists():
                context["methods"] = json.loads(store.run_json.read_text()).get("methods", {})
            for method in chosen:
                context["methods"][method.name] = {
                    **method.facts(),
                    "weights": {key: registry.weight_facts(path) for key, path in weight_paths[method.name].items()},
                }
            results.write_run_json(out, context)
            # triplet id -> (motion, occlusion) where the data has no motion.parquet: measured once, kept for later runs
            motion_cache = MotionCache(bench_data.root)
            cached = motion_cache.read(bench_data.triplets)
            measured = {**cached, **store.motion()}
            try:
                for method in chosen:
                    _score_method(
                        method,
                        weight_paths[method.name],
                        bench_data,
                        groups,
                        torch_device,
                        fp16,
                        perceptual,
                        measured,
                        store,
                        workers,
                        save_frames,
                        console,
                    )
            finally:
                if measured != cached:
                    motion_cache.write(bench_data.triplets, measured)
            frame = store.finish([m.name for m in chosen], [p.name for p in scoring])
            summary = summaries.summarise(frame)
            context.update(status="finished", finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            context["rows"] = {
                "scored": int((frame["status"] == "ok").sum()),
                "failed": int((frame["status"] != "ok").sum()),
            }
            summaries.write_summary(out, summary, context)
            figures.write_plots(out, frame, summary, scoring[0].name)
            results.write_run_json(out, context)
    except (results.ResultsError, DatasetBusyError) as error:
        raise BenchError(str(error)) from None
    failed = frame[(frame["status"] != "ok") & (frame["profile"] == scoring[0].name)]
    failures = failed[["method", "triplet_id", "status"]].itertuples(index=False, name=None)
    return BenchReport(
        out,
        summary,
        context["device"]["name"],
        scoring[0].scored_size,
        [p.name for p in scoring],
        notes,
        list(failures),
    )


def _score_method(
    method: Method,
    weight_paths: dict,
    data: BenchData,
    groups: list[list[Profile]],
    device: torch.device,
    fp16: bool,
    perceptual: Perceptual,
    measured: dict[str, tuple[float, float]],
    store: results.ResultsDir,
    workers: int | None,
    save_frames: bool,
    console: Console,
) -> None:
    try:
        interpolate = method.load(weight_paths, device)
    except MethodError as error:  # already one line naming the file or the option
        raise BenchError(f"method {method.name}: {error}") from None
    except Exception as error:  # a checkpoint that does not fit the network, out of memory, ...
        raise BenchError(f"method {method.name} could not be loaded: {type(error).__name__}: {error}") from None
    workers = workers or min(4, os.cpu_count() or 1)
    for group in groups:
        runner = Runner(method, interpolate, group, device, fp16, perceptual)
        done = store.rows()
        done = done[(done["method"] == method.name) & (done["status"] == "ok")]
        complete = set.intersection(*(set(done.loc[done["profile"] == p.name, "triplet_id"]) for p in group))
        todo = [with_motion(t, measured) for t in data.triplets if t.triplet_id not in complete]
        label = method.name if len(groups) == 1 else f"{method.name} ({', '.join(p.name for p in group)})"
        if complete:
            console.print(f"{label}: {len(complete)} triplets already scored, {len(todo)} to go", highlight=False)
        frames_dir = None
        if save_frames:
            frames_dir = (
                store.root / "frames" / (method.name if group is groups[0] else f"{method.name}@{group[0].name}")
            )
        _run_group(runner, label, todo, measured, store, workers, frames_dir, console)
    _contact_sheet(method, Runner(method, interpolate, groups[0], device, fp16, None), data, store)


def with_motion(triplet: Triplet, measured: dict[str, tuple[float, float]]) -> Triplet:
    """``triplet`` with the motion and occlusion measured for it earlier in the run, when it has none."""
    if triplet.motion is not None or triplet.triplet_id not in measured:
        return triplet
    motion, occlusion = measured[triplet.triplet_id]
    return replace(triplet, motion=motion, occlusion=occlusion)


def _run_group(
    runner: Runner,
    label: str,
    todo: list[Triplet],
    measured: dict,
    store: results.ResultsDir,
    workers: int,
    frames_dir: Path | None,
    console: Console,
) -> None:
    method = runner.method
    size = runner.profiles[0].size
    rows: list[dict] = []
    last_commit = time.monotonic()
    neighbours = NeighbourReader(todo) if method.neighbours else None  # each film decoded once, in triplet order

    def load(triplet: Triplet) -> Loaded:
        item = load_triplet(triplet, size, method.flows, neighbours)
        if item.motion is not None:
            measured[triplet.triplet_id] = (item.motion, item.occlusion)
        runner.prepare(item)
        return item

    def collect(until: int) -> None:
        """Take finished rows in order, waiting while more than ``until`` are in flight; commit now and then."""
        nonlocal rows, last_commit
        while scored and (len(scored) > until or scored[0].done()):
            rows += scored.popleft().result()
            progress.advance(task)
        if len(rows) >= COMMIT_ROWS or time.monotonic() - last_commit > COMMIT_SECONDS:
            store.commit_part(rows)
            rows, last_commit = [], time.monotonic()

    columns = (
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn("triplets"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    scored: deque[Future] = deque()
    with (
        Progress(*columns, console=console) as progress,
        ThreadPoolExecutor(workers, thread_name_prefix="bench-score") as pool,
    ):
        task = progress.add_task(label, total=len(todo))
        try:
            loaded = prefetch(todo, load, workers, ahead=2 * max(workers, method.batch_size))
            failed = lambda item: scored.append(_done(runner.failed(item, item.problem)))  # noqa: E731
            for batch in batches(loaded, method.batch_size, failed):
                scored.extend(runner.submit(batch, pool, frames_dir))
                collect(until=2 * max(workers, method.batch_size))
            collect(until=0)
        finally:  # interrupted: keep what was scored
            wait(scored)
            rows += [
                row for future in scored if not future.cancelled() and not future.exception() for row in future.result()
            ]
            store.commit_part(rows)
            if neighbours is not None:
                neighbours.close()


def _contact_sheet(method: Method, runner: Runner, data: BenchData, store: results.ResultsDir) -> None:
    """The method's worst triplets under the first profile (over every row so far), predicted again, as
    worst_<method>.png."""
    profile = runner.profiles[0]
    frame = store.rows()
    ids = results.worst(frame, method.name, profile.name)
    if not ids:
        return
    by_id = {t.triplet_id: t for t in data.triplets}
    mine = frame[(frame["method"] == method.name) & (frame["profile"] == profile.name)]
    psnr = dict(zip(mine["triplet_id"], mine["psnr"]))
    panels = []
    neighbours = NeighbourReader([by_id[i] for i in ids if i in by_id]) if method.neighbours else None
    for triplet_id in ids:
        if triplet_id not in by_id:
            continue
        item = load_triplet(  # motion not needed
            replace(by_id[triplet_id], motion=0.0), profile.size, method.flows, neighbours
        )
        if item.problem:
            continue
        try:
            (prediction,), _ = runner.predict([item])
        except Exception:  # already recorded as a failed row when it failed in the run
            continue
        frames = np.round(profile.model_frames(item.frames) * 255).astype(np.uint8)
        panels.append(
            {
                "triplet_id": triplet_id,
                "psnr": psnr[triplet_id],
                "frame1": frames[0],
                "frame3": frames[2],
                "truth": frames[1],
                "prediction": profile.prepare(prediction),
            }
        )
    if neighbours is not None:
        neighbours.close()
    if panels:
        figures.contact_sheet(method.name, panels, store.root / f"worst_{method.name}.png")


def library_versions() -> dict:
    import matplotlib
    import pandas
    import PIL
    import pyarrow
    import skimage

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "pillow": PIL.__version__,
        "scikit-image": skimage.__version__,
        "pyarrow": pyarrow.__version__,
        "pandas": pandas.__version__,
        "matplotlib": matplotlib.__version__,
    }
