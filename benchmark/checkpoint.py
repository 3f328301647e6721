"""Reading user-supplied weight files safely and strictly.

Files are read with ``torch.load(weights_only=True)``: tensors and plain containers only, so a
pickle that would run code is refused instead of executed. A state dict is accepted only when
it holds exactly the tensors a network expects (names and shapes); otherwise the error names
what is missing and what is unexpected. Every failure is a :class:`CheckpointError` whose
message is one line that starts with the file's path.
"""

from __future__ import annotations

import pickle
import pickletools
import warnings
import zipfile
from pathlib import Path

import torch

PREFIX = "module."  # nn.DataParallel's, as in the released checkpoint


class CheckpointError(ValueError):
    """A weight file that cannot be used; the message is one line naming the file and the problem."""


def read_tensors(path: str | Path) -> object:
    """``torch.load(path, weights_only=True)`` on the CPU, every failure as one CheckpointError line."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's remarks on pickle protocols: the outcome is what counts
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        imports = pickled_imports(path)
        if imports:
            raise CheckpointError(
                f"{path}: refused: it holds more than tensors and loading it would run code from the file "
                f"(it imports {summary(imports, 3)}); only plain tensor checkpoints are read"
            ) from None
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint (the bytes are not a tensor pickle)"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, AttributeError, TypeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint, truncated or damaged? ({reason})") from None


def pickled_imports(path: Path) -> list[str]:
    """The callables a pickle (plain, or a torch zip's ``data.pkl``) would import, read without running it."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                data = archive.read(next(name for name in archive.namelist() if name.endswith("data.pkl")))
        else:
            data = path.read_bytes()
        strings, imports = [], []
        for opcode, argument, _ in pickletools.genops(data):
            if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
                strings.append(argument)
            elif opcode.name == "GLOBAL":
                imports.append(argument.replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                imports.append(f"{strings[-2]}.{strings[-1]}")
    except Exception:  # not a pickle at all: nothing it could run
        return []
    plain = ("torch._utils._rebuild_", "collections.OrderedDict", "torch.Size", "torch.device")  # what tensor files use
    return sorted(
        {
            name
            for name in imports
            if not (name.startswith(plain) or (name.startswith("torch.") and name.endswith("Storage")))
        }
    )


def state_dict_of(loaded: object, path: str | Path, container_key: str | None = None) -> dict[str, torch.Tensor]:
    """The state dict inside ``loaded`` (under ``container_key`` when that is present), ``module.`` prefixes dropped."""
    if isinstance(loaded, dict) and container_key is not None and container_key in loaded:
        loaded = loaded[container_key]
    if not isinstance(loaded, dict) or not loaded:
        raise CheckpointError(
            f"{path}: not a state dict (found {type(loaded).__name__}{' (empty)' if loaded == {} else ''})"
        )
    others = [key for key, value in loaded.items() if not isinstance(key, str) or not isinstance(value, torch.Tensor)]
    if others:
        raise CheckpointError(
            f"{path}: not a state dict: {len(others)} entries are not named tensors (first: {others[0]!r})"
        )
    return {key.removeprefix(PREFIX): value for key, value in loaded.items()}


def layout_of(module: torch.nn.Module) -> dict[str, torch.Size]:
    """The names and shapes of ``module``'s state dict: what :func:`check_layout` expects of a file for it."""
    return {name: tensor.shape for name, tensor in module.state_dict().items()}


def check_layout(
    state: dict[str, torch.Tensor], expected: dict[str, torch.Size], path: str | Path, what: str, ignore=()
) -> None:
    """Refuse ``state`` unless it has exactly the ``expected`` names and shapes (names starting with
    ``ignore`` aside)."""
    names = {key for key in state if not key.startswith(tuple(ignore))}
    missing = sorted(set(expected) - names)
    unexpected = sorted(names - set(expected))
    wrong = sorted(key for key in names & set(expected) if tuple(state[key].shape) != tuple(expected[key]))
    if not (missing or unexpected or wrong):
        return
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys ({summary(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys ({summary(unexpected)})")
    if wrong:
        shapes = [f"{key} {tuple(state[key].shape)} instead of {tuple(expected[key])}" for key in wrong]
        problems.append(f"{len(wrong)} tensors of the wrong shape ({summary(shapes)})")
    raise CheckpointError(f"{path}: not {what}: {'; '.join(problems)}")


def summary(items: list[str], shown: int = 5) -> str:
    return ", ".join(items[:shown]) + (f", ... {len(items) - shown} more" if len(items) > shown else "")


TRAINING = "atdkit_training"  # key of the provenance dict in checkpoints written by ``atdkit train``


def training_info(loaded: object) -> dict | None:
    """The provenance of an ``atdkit train`` checkpoint (method, steps, dataset fingerprint, ...);
    None for other files."""
    info = loaded.get(TRAINING) if isinstance(loaded, dict) else None
    return info if isinstance(info, dict) else None


def training_for(loaded: object, path: str | Path, weights_key: str, network: str) -> dict | None:
    """:func:`training_info` of a file read for the ``weights_key`` network (``network``: how a refusal names
    it); a CheckpointError for an ``atdkit train`` checkpoint of another network."""
    info = training_info(loaded)
    if info is not None and info.get("weights_key") != weights_key:
        raise CheckpointError(f"{path}: {describe_training(info)}, not {network}")
    return info


def trained_state(path: str | Path, weights_key: str) -> tuple[dict[str, torch.Tensor], dict]:
    """The network weights and provenance of an ``atdkit train`` checkpoint made for the ``weights_key`` network."""
    loaded = read_tensors(path)
    info = training_for(loaded, path, weights_key, f"a {weights_key} network")
    if info is None:
        raise CheckpointError(f"{path}: not a checkpoint written by atdkit train (no {TRAINING} entry)")
    return state_dict_of(loaded, path, "model_state_dict"), info


def describe_training(info: dict) -> str:
    return f"a checkpoint of method {info.get('method')!r} ({info.get('weights_key')} network) made by atdkit train"
