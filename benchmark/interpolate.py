"""``atdkit interpolate``: the middle frame of two frames with any benchmark method.

    atdkit interpolate --method animeinterp FRAME1 FRAME3 --out MIDDLE.png --weights animeinterp=... vgg19=...

Frames are used at their own size (fitted to the method's rule and back, as in ``atdkit bench``);
``flows_dir`` gives precomputed flows (the official files ``guide_flo13.npy``, ``guide_flo31.npy``)
to the methods that take them, with the option values the method implies for given flows. The
result is written as an 8-bit image through a temporary file.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from atdkit.benchmark import methods as registry
from atdkit.benchmark.harness import choose_device, fit_inputs
from atdkit.images import read_rgb, write_image
from atdkit.pipelines.formats.atd12k import FLOW_FILES, read_flows


def interpolate_pair(
    method_name: str,
    frame1: Path,
    frame3: Path,
    out: Path,
    weights: dict[str, Path] | None = None,
    device: str = "auto",
    flows_dir: Path | None = None,
    options: dict[str, object] | None = None,
) -> tuple[Path, float]:
    """Write the middle frame to ``out``; returns the path and the method's seconds.

    ``options``: the method's run option values by key. Methods that take triplet ids get the name of
    the folder holding ``frame1``. Raises MethodError, BenchError or ValueError with a one-line message.
    """
    method = registry.get(method_name)
    given = dict(method.given_flows) if flows_dir is not None else {}
    method = method.with_options(
        {**given, **{key: value for key, value in (options or {}).items() if value is not None}}
    )
    if flows_dir is not None and method.flows == "none":
        raise ValueError(f"method {method.name} takes no precomputed flows: leave out --flows")
    paths = registry.resolve_weights(method, {key: Path(path) for key, path in (weights or {}).items()})
    first, last = read_rgb(frame1), read_rgb(frame3)
    if first.shape != last.shape:
        raise ValueError(
            f"{frame1} is {first.shape[1]}x{first.shape[0]} but {frame3} is {last.shape[1]}x{last.shape[0]}"
        )
    if method.flows == "required" and flows_dir is None:
        raise ValueError(f"method {method.name} needs precomputed flows: pass --flows DIR ({', '.join(FLOW_FILES)})")
    flows = (
        None if flows_dir is None else [torch.from_numpy(flow)[None] for flow in read_flows(flows_dir, first.shape[:2])]
    )
    torch_device, _ = choose_device(device)
    interpolate = method.load(paths, torch_device)
    frames = [
        torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255).to(torch_device) for image in (first, last)
    ]
    tensors = [*frames, *([None, None] if flows is None else [flow.to(torch_device) for flow in flows])]
    (a, b, flow13, flow31), restore = fit_inputs(method.fit, tensors, [False, False, True, True])
    started = time.perf_counter()
    ids = {"ids": [Path(frame1).resolve().parent.name]} if method.takes_ids else {}
    with torch.inference_mode():
        middle = interpolate(a, b, None if flows is None else (flow13, flow31), **ids)
    seconds = time.perf_counter() - started
    image = np.round(restore(middle.float()).clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)
    write_image(out, image)
    return Path(out), seconds
