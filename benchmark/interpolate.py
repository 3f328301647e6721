"""``atdkit interpolate``: the middle frame of two frames with any benchmark method.

    atdkit interpolate --method animeinterp FRAME1 FRAME3 --out MIDDLE.png --weights animeinterp=... vgg19=...

Frames are used at their own size (fitted to the method's rule and back, as in ``atdkit bench``);
``--flows DIR`` gives precomputed SGM flows (``guide_flo13.npy``, ``guide_flo31.npy``) to the
methods that take them. The result is written as an 8-bit PNG through a temporary file.
"""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import torch

from atdkit.store import atomic_path
from benchmark import methods as registry
from benchmark.data import read_rgb
from benchmark.harness import choose_device, fit_inputs
from benchmark.methods.animeinterp.sgm.guide_files import read_guide_flows


def interpolate_pair(method_name: str, frame1: Path, frame3: Path, out: Path, weights: dict[str, Path] | None = None,
                     device: str = "auto", flows_dir: Path | None = None, sgm_style: str = "auto") -> tuple[Path, float]:
    """Write the middle frame to ``out``; returns the path and the method's seconds.

    With ``flows_dir`` the SGM methods use its flows; otherwise they compute them, in ``sgm_style``
    (``auto``: from the name of the folder holding ``frame1``, as for a benchmark triplet).
    Raises MethodError, BenchError, GuideFlowError or ValueError with a one-line message.
    """
    options = {"sgm": "precomputed"} if flows_dir is not None else {"sgm_style": sgm_style}
    method = registry.get(method_name).with_options(options)
    paths = registry.resolve_weights(method, {key: Path(path) for key, path in (weights or {}).items()})
    first, last = read_rgb(Path(frame1)), read_rgb(Path(frame3))
    if first.shape != last.shape:
        raise ValueError(f"{frame1} is {first.shape[1]}x{first.shape[0]} but {frame3} is {last.shape[1]}x{last.shape[0]}")
    flows = None
    if flows_dir is not None and method.flows != "none":
        flows = [torch.from_numpy(flow)[None] for flow in read_guide_flows(flows_dir, first.shape[:2])]
    if method.flows == "required" and flows is None:
        raise ValueError(f"method {method.name} needs precomputed SGM flows: pass --flows DIR (guide_flo13.npy, guide_flo31.npy)")
    torch_device, _ = choose_device(device)
    interpolate = method.load(paths, torch_device)
    frames = [torch.from_numpy(image).permute(2, 0, 1)[None].float().div(255).to(torch_device) for image in (first, last)]
    tensors = [*frames, *([None, None] if flows is None else [flow.to(torch_device) for flow in flows])]
    (a, b, flow13, flow31), restore = fit_inputs(method.fit, tensors, [False, False, True, True])
    started = time.perf_counter()
    ids = {"ids": [Path(frame1).resolve().parent.name]} if method.takes_ids else {}
    with torch.inference_mode():
        middle = interpolate(a, b, None if flows is None else (flow13, flow31), **ids)
    seconds = time.perf_counter() - started
    image = np.round(restore(middle.float()).clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy() * 255).astype(np.uint8)
    out = Path(out)
    with atomic_path(out) as temporary:
        if not cv2.imwrite(str(temporary), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
            raise ValueError(f"{out}: could not write the image (unknown extension?)")
    return out, seconds
