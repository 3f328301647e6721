"""The official ATD-12K layout (``../shared/specs/atd12k_format.md``), read and written here and nowhere else.

```
datasets/
  train_10k/<id>/frame1.jpg frame2.jpg frame3.jpg                  training triplets, original size
  test_2k_540p/<id>/frame1.png frame2.png frame3.png               test triplets, 960x540
  test_2k_original/<id>/frame1.jpg frame2.jpg frame3.jpg           the same at original size
  test_2k_annotations/<id>/<id>.json                               labels of a test triplet
  test_2k_pre_calc_sgm_flows/<id>/guide_flo13.npy guide_flo31.npy  flows frame1 -> frame3 and back
```

Used by ``atdkit bench`` (the test set), ``atdkit export atd12k`` and ``atdkit import atd12k``,
and for the flow files by every cache of flows in that format. One reading rule for the JSON:
``level`` (0, 1, 2) is required; ``motion_RoI`` and ``image_size`` may be absent (no RoI; the
frames' own size), not malformed; a tag field may be a string or a list, its tags are lowercased
and those outside the paper's vocabulary dropped with a note, like unknown fields.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from atdkit import schema
from atdkit.store import temporary_sibling

TRAIN, TEST_540P, TEST_ORIGINAL = "train_10k", "test_2k_540p", "test_2k_original"
TEST_ANNOTATIONS, TEST_FLOWS = "test_2k_annotations", "test_2k_pre_calc_sgm_flows"
SIZE_540P = (960, 540)
JSON_FIELDS = ("level", "motion_RoI", "image_size", "general_motion_type", "behavior")
FLOW_FILES = ("guide_flo13.npy", "guide_flo31.npy")  # frame1 -> frame3, frame3 -> frame1
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")
_NAME = re.compile(r"(?P<source>.+)_(?P<index>\d+)_s\d+")  # Disney_v4_0_000024_s2


class AnnotationError(ValueError):
    """A test triplet's JSON that cannot be used; the message is one line naming the file."""


class FlowFileError(ValueError):
    """A flow file that cannot be used; the message is one line naming the file."""


# --------------------------------------------------------------------------- names and frames


def source_and_series(name: str) -> tuple[str, str]:
    """(source, series) of a triplet folder name: ``Disney_v4_0_000024_s2`` -> ``Disney_v4_0``, ``Disney``."""
    match = _NAME.fullmatch(name)
    return match["source"] if match else name, name.split("_")[0]


def triplet_names(folder: Path) -> list[str]:
    """The triplet folders under ``folder`` (e.g. ``test_2k_540p/``), sorted; hidden names skipped."""
    return (
        sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")) if folder.is_dir() else []
    )


def frame_files(folder: Path) -> tuple[Path, Path, Path] | None:
    """frame1, frame2 and frame3 of a triplet folder (PNG or JPEG), or None when one is absent."""
    files = []
    for n in (1, 2, 3):
        found = [folder / f"frame{n}{suffix}" for suffix in FRAME_SUFFIXES if (folder / f"frame{n}{suffix}").is_file()]
        if not found:
            return None
        files.append(found[0])
    return tuple(files)


def expected_frames(folder: Path) -> tuple[Path, Path, Path]:
    """The triplet's frame files as :func:`frame_files` finds them, else the PNG names (to report as missing)."""
    return frame_files(folder) or tuple(folder / f"frame{n}.png" for n in (1, 2, 3))


# --------------------------------------------------------------------------- the annotation JSON


@dataclass(frozen=True)
class Annotation:
    level: int  # index in schema.DIFFICULTIES
    roi: tuple[float, float, float, float] | None  # (x, y, w, h) on frame2, pixels of image_size; None: not given
    image_size: tuple[int, int] | None  # (W, H) the RoI was drawn at; None: not given (the frames' own size)
    general_motion: tuple[str, ...]
    behavior: tuple[str, ...]
    notes: tuple[str, ...] = ()  # what was read differently than written: unknown fields and tags, absent fields
    unknown_fields: tuple[str, ...] = ()

    @property
    def difficulty(self) -> str:
        return schema.DIFFICULTIES[self.level]


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _tags(value, field: str, vocabulary: tuple[str, ...], notes: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        notes.append(f"{field}: expected a string or a list of strings, got {json.dumps(value)}: ignored")
        return ()
    tags = [v.strip().lower() for v in values if v.strip()]
    unknown = [t for t in tags if t not in vocabulary]
    if unknown:
        notes.append(f"{field}: {', '.join(unknown)} not one of {', '.join(vocabulary)}: ignored")
    return tuple(t for t in vocabulary if t in tags)


def read_annotation(path: Path) -> Annotation:
    """One test triplet's JSON; AnnotationError (one line naming the file) when it cannot be used."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnnotationError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AnnotationError(f"{path}: not readable JSON ({error})") from None
    if not isinstance(document, dict):
        raise AnnotationError(f"{path}: expected a JSON object, got {type(document).__name__}")
    notes: list[str] = []
    unknown = tuple(sorted(set(document) - set(JSON_FIELDS)))
    if unknown:
        notes.append(f"unknown field(s) {', '.join(unknown)} ignored")
    level, roi, size = document.get("level"), document.get("motion_RoI"), document.get("image_size")
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level < len(schema.DIFFICULTIES):
        raise AnnotationError(f"{path}: level must be 0, 1 or 2, got {json.dumps(level)}")
    if roi is not None:
        if not isinstance(roi, dict) or not all(_number(roi.get(k)) for k in ("x", "y", "width", "height")):
            raise AnnotationError(
                f"{path}: motion_RoI must be an object with numbers x, y, width, height, got {json.dumps(roi)}"
            )
        if roi["width"] < 0 or roi["height"] < 0:
            raise AnnotationError(f"{path}: motion_RoI has a negative width or height: {json.dumps(roi)}")
        roi = (float(roi["x"]), float(roi["y"]), float(roi["width"]), float(roi["height"]))
    else:
        notes.append("no motion_RoI: no RoI")
    if size is not None:
        if not isinstance(size, list) or len(size) != 2 or not all(_number(v) and v > 0 for v in size):
            raise AnnotationError(f"{path}: image_size must be [width, height], got {json.dumps(size)}")
        size = (int(size[0]), int(size[1]))
    elif roi is not None:
        notes.append("no image_size: the RoI is taken in the frames' own pixels")
    return Annotation(
        level,
        roi,
        size,
        _tags(document.get("general_motion_type"), "general_motion_type", schema.GENERAL_MOTIONS, notes),
        _tags(document.get("behavior"), "behavior", schema.BEHAVIORS, notes),
        tuple(notes),
        unknown,
    )


def annotation_json(
    difficulty: str,
    roi: tuple[float, float, float, float],
    image_size: tuple[int, int],
    general_motion: list[str],
    behavior: list[str],
) -> str:
    """The official JSON of one triplet: exactly the released fields, the RoI rounded to whole pixels."""
    x, y, w, h = (int(round(v)) for v in roi)
    document = {
        "level": schema.DIFFICULTIES.index(difficulty),
        "motion_RoI": {"x": x, "y": y, "width": w, "height": h},
        "image_size": [int(image_size[0]), int(image_size[1])],
        "general_motion_type": list(general_motion or []),
        "behavior": list(behavior or []),
    }
    return json.dumps(document, indent=2) + "\n"


# --------------------------------------------------------------------------- the flow files


def read_flow(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """One flow file as float32 (2, H, W), channel 0 = x; ``size`` (H, W), when given, must match."""
    try:
        flow = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FlowFileError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError) as error:
        raise FlowFileError(f"{path}: not a readable .npy array ({error})") from None
    if flow.ndim != 3 or flow.shape[0] != 2 or not np.issubdtype(flow.dtype, np.floating):
        raise FlowFileError(f"{path}: expected a float array of shape (2, H, W), got {flow.dtype} {flow.shape}")
    if size is not None and flow.shape[1:] != tuple(size):
        raise FlowFileError(f"{path}: flow is {flow.shape[2]}x{flow.shape[1]}, the frames are {size[1]}x{size[0]}")
    if not np.isfinite(flow).all():
        raise FlowFileError(f"{path}: flow has non-finite values")
    return flow.astype(np.float32)


def read_flows(folder: str | Path, size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(flow 1 -> 3, flow 3 -> 1) of a triplet folder, each float32 (2, H, W)."""
    folder = Path(folder)
    return read_flow(folder / FLOW_FILES[0], size), read_flow(folder / FLOW_FILES[1], size)


def read_flows_window(folder: str | Path, size: tuple[int, int], window: tuple[slice, slice]) -> np.ndarray:
    """Both flows of a triplet folder inside ``window`` (rows, columns), read memory-mapped: float32 (2, 2, h, w).
    ``size`` (H, W) is what the whole flows must measure."""
    flows = []
    for name in FLOW_FILES:
        path = Path(folder) / name
        try:
            flow = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as error:
            raise FlowFileError(f"{path}: not a readable .npy array ({error})") from None
        if flow.shape != (2, *size):
            raise FlowFileError(
                f"{path}: flow is {flow.shape[-1]}x{flow.shape[-2]}, the frames are {size[1]}x{size[0]}"
            )
        flows.append(np.asarray(flow[:, window[0], window[1]], dtype=np.float32))
    return np.stack(flows)


def write_flows(folder: str | Path, flow13: np.ndarray, flow31: np.ndarray) -> None:
    """Both flows as the official files (float64), each through a temporary file and a rename."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, flow in zip(FLOW_FILES, (flow13, flow31)):
        target = folder / name
        temporary = temporary_sibling(target)
        with open(temporary, "wb") as file:
            np.save(file, np.asarray(flow, dtype=np.float64))
        os.replace(temporary, target)
