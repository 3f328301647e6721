"""The training triplets of an atdkit dataset and the batches made of them (paper, section 4.4).

Which triplets: those of ``triplets.parquet``, less the ones ``labels.parquet`` rejects (``kept``
false), restricted to the ``train`` side of ``splits.parquet`` when it exists (the test side is
never seen). A share of them (``--val-fraction``) is held out for validation, whole sources at
a time (:func:`atdkit.pipelines.statistics.split.choose_split`, stratified by difficulty when
labelled); a dataset of a single film holds out the last triplets of the film instead.

Training items are crops: the three frames rescaled to the training size (Pillow Lanczos, as
the benchmark reads them), one random square crop, a random horizontal flip and a random
reversal of the triplet, with the flows the network takes beside the frames (when it takes any:
the method's ``TrainingFlows``, one folder of flow files per triplet) cropped, flipped (x negated)
and swapped alike. The order of an epoch and each crop's randomness come from
(seed, step) alone, so a resumed run sees exactly what an uninterrupted one would, whatever
the number of workers or processes.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data import Sampler

from atdkit.benchmark.training.settings import TrainError
from atdkit.images import read_rgb, resize_lanczos
from atdkit.pipelines.formats.atd12k import read_flows_window
from atdkit.pipelines.statistics.split import SplitError, choose_split, human_levels
from atdkit.store import Dataset, DatasetError


@dataclass(frozen=True)
class TrainingTriplet:
    triplet_id: str
    source_id: str
    frames: tuple[Path, Path, Path]


@dataclass
class TrainingData:
    root: Path
    train: list[TrainingTriplet]
    val: list[TrainingTriplet]
    validation: str  # how the validation triplets were chosen

    def fingerprint(self) -> str:
        """Hash of both sides' triplet ids and frame file sizes: tells whether a resumed run trains on the same data."""
        digest = hashlib.blake2b(digest_size=16)
        for side, triplets in (("train", self.train), ("val", self.val)):
            for triplet in triplets:
                digest.update(
                    json.dumps([side, triplet.triplet_id, [path.stat().st_size for path in triplet.frames]]).encode()
                )
        return digest.hexdigest()

    def describe(self) -> str:
        return (
            f"{len(self.train)} training and {len(self.val)} validation triplets from {self.root} ({self.validation})"
        )


def open_training_data(root: str | Path, val_fraction: float, seed: int) -> TrainingData:
    """The training and validation triplets of the atdkit dataset ``root``; TrainError (one line)
    when there are none."""
    dataset = Dataset(root)
    try:
        triplets = dataset.read("triplets", required=True)
        labels = dataset.read("labels")
        splits = dataset.read("splits")
    except DatasetError as error:
        raise TrainError(str(error)) from None
    where = f"in {dataset.table_path('triplets')}"
    if labels is not None:
        rejected = set(labels.filter(pc.invert(labels["kept"].fill_null(True)))["triplet_id"].to_pylist())
        triplets = triplets.filter(
            pc.invert(pc.is_in(triplets["triplet_id"], value_set=pa.array(sorted(rejected), pa.string())))
        )
        where += " less those labels.parquet rejects"
    if splits is not None:
        train_side = splits.filter(pc.equal(splits["split"], "train"))["triplet_id"]
        triplets = triplets.filter(pc.is_in(triplets["triplet_id"], value_set=train_side))
        where += " on the train side of splits.parquet"
    if triplets.num_rows == 0:
        raise TrainError(f"{dataset.root}: no train triplets ({where})")
    if triplets.num_rows < 2:
        raise TrainError(
            f"{dataset.root}: 1 train triplet ({where}); training needs one to learn from and one to validate on"
        )
    rows = triplets.select(["triplet_id", "source_id", "frames"]).to_pylist()
    held_out, validation = _hold_out(triplets, rows, human_levels(triplets, labels), val_fraction, seed)
    sides: tuple[list, list] = ([], [])
    for row, is_val in zip(rows, held_out):
        frames = tuple(dataset.triplet_dir(row["triplet_id"]) / f"frame{n}.png" for n in (1, 2, 3))
        sides[bool(is_val)].append(TrainingTriplet(row["triplet_id"], row["source_id"], frames))
    missing = [path for side in sides for triplet in side for path in triplet.frames if not path.is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more frame files)" if len(missing) > 1 else ""
        raise TrainError(f"{missing[0]}: no such frame file{more}; re-run atdkit extract on {dataset.root}")
    return TrainingData(dataset.root, *sides, validation)


def _hold_out(triplets, rows: list[dict], levels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, str]:
    """Per triplet, whether it is held out for validation, and how they were chosen."""
    groups = np.array([row["source_id"] for row in rows], dtype=object)
    try:
        held_out = choose_split(groups, levels, fraction, seed)
        return held_out, f"validation: {len(set(groups[held_out]))} of {len(set(groups))} sources held out"
    except SplitError:  # a single film: its last triplets in time are held out
        order = np.argsort([row["frames"][0] for row in rows], kind="stable")
        count = min(len(rows) - 1, max(1, math.ceil(fraction * len(rows))))
        held_out = np.zeros(len(rows), bool)
        held_out[order[-count:]] = True
        return held_out, f"one source: validation on its last {count} triplets in time"


def load_frames(triplet: TrainingTriplet, size: tuple[int, int]) -> np.ndarray:
    """The triplet's frames as uint8 RGB (3, H, W, 3) at ``size`` (W, H); ImageError naming the file
    when one is unreadable."""
    return np.stack([resize_lanczos(read_rgb(path), size) for path in triplet.frames])


def to_sample(frames: np.ndarray, flows: np.ndarray | None) -> dict[str, torch.Tensor]:
    """A loader item: frames uint8 (3 frames, 3, H, W), flows float32 (2, 2, H, W) when given."""
    sample = {"frames": torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2)))}
    if flows is not None:
        sample["flows"] = torch.from_numpy(np.ascontiguousarray(flows, dtype=np.float32))
    return sample


class TrainingCrops(TorchDataset):
    """Items ``(index, seed)``: a randomly cropped, flipped and reversed triplet (see the module doc)."""

    def __init__(
        self, triplets: list[TrainingTriplet], size: tuple[int, int], crop: int, flow_folders: dict[str, Path] | None
    ):
        self.triplets, self.size, self.crop, self.flow_folders = triplets, size, crop, flow_folders

    def __len__(self) -> int:
        return len(self.triplets)

    def __getitem__(self, item: tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = item
        triplet = self.triplets[index]
        rng = np.random.default_rng(seed)
        width, height = self.size
        top, left = int(rng.integers(0, height - self.crop + 1)), int(rng.integers(0, width - self.crop + 1))
        flip, reverse = bool(rng.random() < 0.5), bool(rng.random() < 0.5)
        window = (slice(top, top + self.crop), slice(left, left + self.crop))
        frames = load_frames(triplet, self.size)[:, window[0], window[1]]
        flows = None
        if self.flow_folders is not None:
            flows = read_flows_window(self.flow_folders[triplet.triplet_id], self.size[::-1], window)
        if flip:
            frames = frames[:, :, ::-1]
            if flows is not None:
                flows = flows[..., ::-1] * np.array([-1, 1], np.float32).reshape(1, 2, 1, 1)
        if reverse:  # frame3 -> frame1; the flow 1->3 of the reversed triplet is the flow 3->1
            frames, flows = frames[::-1], None if flows is None else flows[::-1]
        return to_sample(frames, flows)


class WholeTriplets(TorchDataset):
    """Validation items: whole triplets at the training size, with their flows when the network takes them."""

    def __init__(self, triplets: list[TrainingTriplet], size: tuple[int, int], flow_folders: dict[str, Path] | None):
        self.triplets, self.size, self.flow_folders = triplets, size, flow_folders

    def __len__(self) -> int:
        return len(self.triplets)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        triplet = self.triplets[index]
        flows = None
        if self.flow_folders is not None:
            flows = read_flows_window(
                self.flow_folders[triplet.triplet_id], self.size[::-1], (slice(None), slice(None))
            )
        return to_sample(load_frames(triplet, self.size), flows)


class TrainingOrder(Sampler):
    """``(triplet index, crop seed)`` for the steps [start, stop), this process's share of each batch.

    Epoch e visits the triplets in a permutation drawn from (seed, e), wrapped around to fill
    its last batch, so that every step is a full batch and step s is epoch s // steps_per_epoch.
    """

    def __init__(self, count: int, batch_size: int, seed: int, start: int, stop: int, rank: int = 0, world: int = 1):
        self.count, self.batch_size, self.seed, self.start, self.stop = count, batch_size, seed, start, stop
        self.rank, self.world = rank, world
        self.steps_per_epoch = math.ceil(count / batch_size)

    def epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """The triplet order of ``epoch`` (one full batch per step) and each position's crop seed."""
        rng = np.random.default_rng([self.seed, epoch])
        order = np.resize(rng.permutation(self.count), self.steps_per_epoch * self.batch_size)
        return order, rng.integers(0, 2**63 - 1, size=len(order), dtype=np.int64)

    def __iter__(self):
        current, (order, seeds) = None, (None, None)
        for step in range(self.start, self.stop):
            epoch, position = divmod(step, self.steps_per_epoch)
            if epoch != current:
                current, (order, seeds) = epoch, self.epoch(epoch)
            for slot in range(position * self.batch_size + self.rank, (position + 1) * self.batch_size, self.world):
                yield int(order[slot]), int(seeds[slot])

    def __len__(self) -> int:
        return max(0, self.stop - self.start) * (self.batch_size // self.world)
