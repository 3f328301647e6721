"""atdkit's AdaCoF against your checkout of the release: same weights and frames, largest differences, seconds.

    python tools/speed/against_adacof.py --repo ADACOF_REPO [FRAME0 FRAME1] [--size 250x450]

ADACOF_REPO is a checkout of github.com/HyeongminLEE/AdaCoF-pytorch (not part of atdkit; nothing
of it is copied). Its ``models/adacofnet.py`` is run unedited on the CPU, adapted while it runs:
``.cuda()`` leaves modules where they are, and ``cupy`` is replaced by a stand-in that compiles
the release's own CUDA kernels (the strings of ``cupy_module/adacof.py``, after its own size and
stride substitution) as C++ with the system compiler (``$CXX``, default ``g++``), the CUDA grid
replaced by one thread running every index in turn; while its ``FunctionAdaCoF`` runs, tensors
report ``is_cuda`` and ``torch.cuda.current_stream()`` answers, so its CUDA branch is the one
taken. Its AdaCoF warp is thus the release's own arithmetic, independent of atdkit's
gather-based rewrite.

Both networks load the same checkpoint, written in the release's format (``{'epoch',
'state_dict'}``, its key names, legacy serialisation) with seeded random He-scaled values. The
release pads the frames inside its forward; atdkit's goes through the benchmark's padding rule
(``METHOD.fit``). Printed: the largest differences of the output frame, of the kernel
estimation's outputs (weights, offsets in px, occlusion map), of the warp's gradients (the
release's backward kernels against autograd), and seconds per forward. Frames default to a real
anime pair in ../shared/data, resized to --size (HxW; 250x450 is padded to 256x480).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from atdkit.benchmark.harness import fit_inputs
from atdkit.benchmark.methods.adacof import METHOD, AdaCoFNet, adacof

REPO = Path(__file__).resolve().parents[2]
PAIR = [
    REPO.parent / "shared" / "data" / "pairs" / "anime_keyframes_640x540" / f"sakura_panel_{n}.png"
    for n in ("033", "039")
]
MEAN = (0.4631, 0.4352, 0.3990)
# what nvcc would provide: the grid becomes one thread that walks every index
CUDA_ON_CPU = """
#define __global__
struct Dim { int x; };
static const Dim blockIdx = {0}, threadIdx = {0}, blockDim = {1}, gridDim = {1};
"""


class CompiledKernels:
    """``cupy.cuda.compile_with_cache(source)``'s result: the kernels of ``source`` built for this CPU."""

    def __init__(self, source: str, folder: Path):
        digest = hashlib.sha256(source.encode()).hexdigest()[:16]
        library = folder / f"kernel_{digest}.so"
        if not library.exists():
            code = folder / f"kernel_{digest}.cpp"
            code.write_text(CUDA_ON_CPU + source)
            compiler = os.environ.get("CXX", "g++")
            subprocess.run([compiler, "-O2", "-shared", "-fPIC", str(code), "-o", str(library)], check=True)
        self.library = ctypes.CDLL(str(library))

    def get_function(self, name: str):
        function = getattr(self.library, name)

        def launch(grid, block, args, stream=None):
            function(ctypes.c_int(args[0]), *(ctypes.c_void_p(pointer) for pointer in args[1:]))

        return launch


def cupy_stand_in(folder: Path) -> types.ModuleType:
    module = types.ModuleType("cupy")
    module.util = types.SimpleNamespace(memoize=lambda **_: lambda function: function)
    module.cuda = types.SimpleNamespace(compile_with_cache=lambda source: CompiledKernels(source, folder))
    return module


@contextlib.contextmanager
def looking_like_cuda():
    """Tensors report ``is_cuda`` and a current stream exists (the release's FunctionAdaCoF takes its CUDA branch)."""
    saved_stream = torch.cuda.current_stream
    torch.Tensor.is_cuda = property(lambda self: True)
    torch.cuda.current_stream = lambda *args: types.SimpleNamespace(cuda_stream=0)
    try:
        yield
    finally:
        del torch.Tensor.is_cuda
        torch.cuda.current_stream = saved_stream


@contextlib.contextmanager
def release_code(repo: Path):
    """The release's modules importable and runnable on this CPU, for the duration of the block."""
    build = tempfile.TemporaryDirectory()
    saved_cupy = sys.modules.get("cupy")
    sys.modules["cupy"] = cupy_stand_in(Path(build.name))
    sys.path.insert(0, str(repo))
    saved_cuda = torch.nn.Module.cuda
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self
    try:
        from cupy_module.adacof import FunctionAdaCoF

        forward, backward = FunctionAdaCoF.forward, FunctionAdaCoF.backward

        def on_cpu(step):
            def run(ctx, *args):
                with looking_like_cuda():
                    return step(ctx, *args)

            return staticmethod(run)

        FunctionAdaCoF.forward, FunctionAdaCoF.backward = on_cpu(forward), on_cpu(backward)
        yield FunctionAdaCoF
    finally:
        torch.nn.Module.cuda = saved_cuda
        sys.path.remove(str(repo))
        for name in [name for name in sys.modules if name.split(".")[0] in ("models", "cupy_module", "utility")]:
            del sys.modules[name]
        if saved_cupy is None:
            sys.modules.pop("cupy", None)
        else:
            sys.modules["cupy"] = saved_cupy
        build.cleanup()


def released_checkpoint(path: Path, seed: int = 0) -> None:
    """Random weights in the release's format: ``{'epoch', 'state_dict'}`` as its trainer.py saves them."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for name, tensor in AdaCoFNet().state_dict().items():
        if tensor.dim() == 4:
            fan_in = tensor.shape[1] * tensor.shape[2] * tensor.shape[3]
            state[name] = torch.randn(tensor.shape, generator=generator) * (2 / fan_in) ** 0.5
        else:
            state[name] = 0.1 * torch.randn(tensor.shape, generator=generator)
    torch.save({"epoch": 50, "state_dict": state}, path, _use_new_zipfile_serialization=False)


def read_frame(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """RGB in [0, 1], as torchvision's ToTensor gives the release's scripts, after a bilinear resize to (H, W)."""
    image = Image.open(path).convert("RGB").resize((size[1], size[0]), Image.BILINEAR)
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None].contiguous()


def timed(run):
    started = time.perf_counter()
    result = run()
    return result, time.perf_counter() - started


def warp_and_gradients(warp, image: torch.Tensor, heads, gradient: torch.Tensor):
    """``warp(image, weights, alpha, beta, 1)``, its seconds, and the gradients of weights, alpha and beta."""
    inputs = [tensor.clone().requires_grad_() for tensor in heads]
    output, seconds = timed(lambda: warp(image, *inputs, 1))
    output.backward(gradient)
    return output.detach(), [tensor.grad for tensor in inputs], seconds


def largest(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True, help="checkout of github.com/HyeongminLEE/AdaCoF-pytorch")
    parser.add_argument("frames", nargs="*", type=Path, default=PAIR)
    parser.add_argument("--size", default="250x450", help="HxW the frames are resized to (default 250x450)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if not (args.repo / "models" / "adacofnet.py").exists() or not (args.repo / "cupy_module" / "adacof.py").exists():
        sys.exit(f"{args.repo}: not a checkout of AdaCoF-pytorch (no models/adacofnet.py, cupy_module/adacof.py)")
    if len(args.frames) != 2:
        sys.exit("give two frames (or none for the default pair)")
    torch.set_num_threads(args.threads)
    size = tuple(int(side) for side in args.size.split("x"))
    frame0, frame1 = (read_frame(path, size) for path in args.frames)
    print(
        f"atdkit against {args.repo.resolve()} on the CPU, {args.threads} threads; frames "
        f"{', '.join(path.name for path in args.frames)} at {size[1]}x{size[0]}"
    )
    with tempfile.TemporaryDirectory() as folder, release_code(args.repo) as function_adacof:
        checkpoint = Path(folder) / "ckpt.pth"
        released_checkpoint(checkpoint)
        import models

        release = models.Model(types.SimpleNamespace(model="adacofnet", kernel_size=5, dilation=1))
        release.load(torch.load(checkpoint, map_location=torch.device("cpu"))["state_dict"])  # evaluation.py's way
        release.eval()
        interpolate = METHOD.load({"adacof": checkpoint}, torch.device("cpu"))
        ours = AdaCoFNet.from_checkpoint(checkpoint)

        def atdkit_frame():
            (padded0, padded1), restore = fit_inputs(METHOD.fit, [frame0, frame1], [False, False])
            return restore(interpolate(padded0, padded1, None))

        with torch.no_grad():
            expected, release_seconds = timed(lambda: release(frame0, frame1))
            (found, first), (_, second) = (timed(atdkit_frame) for _ in range(2))
            (padded0, padded1), _ = fit_inputs(METHOD.fit, [frame0, frame1], [False, False])
            mean = torch.tensor(MEAN).view(1, 3, 1, 1)
            release_heads = release.model.get_kernel(padded0 - mean, padded1 - mean)
            our_heads = ours.get_kernel(padded0 - mean, padded1 - mean)
        print(
            f"frame {tuple(found.shape[-2:])}: largest difference {largest(found, expected):.2g} "
            f"(values {float(expected.min()):.2f}..{float(expected.max()):.2f}); "
            f"release {release_seconds:.2f} s, atdkit {min(first, second):.2f} s (best of 2)"
        )
        names = ("weights 1", "alpha 1", "beta 1", "weights 2", "alpha 2", "beta 2", "occlusion")
        print(
            "kernel estimation, largest differences: "
            + ", ".join(f"{name} {largest(a, b):.2g}" for name, a, b in zip(names, our_heads, release_heads))
            + f" (offsets up to {max(float(h.abs().max()) for h in release_heads[1:3]):.1f} px)"
        )
        weights, alpha, beta = (head.detach().contiguous() for head in release_heads[:3])
        image = torch.nn.functional.pad(padded0, [2] * 4, mode="replicate").contiguous()
        gradient = torch.randn(weights.shape[0], 3, *weights.shape[-2:], generator=torch.Generator().manual_seed(3))
        release_out, release_grads, release_warp = warp_and_gradients(
            function_adacof.apply, image, (weights, alpha, beta), gradient
        )
        our_out, our_grads, our_warp = warp_and_gradients(adacof, image, (weights, alpha, beta), gradient)
        print(
            f"warp alone: output {largest(our_out, release_out):.2g}; gradients: "
            + ", ".join(
                f"{name} {largest(a, b):.2g} (of {float(b.abs().max()):.2g})"
                for name, a, b in zip(("weights", "alpha", "beta"), our_grads, release_grads)
            )
            + f"; release kernel on one CPU thread {release_warp:.2f} s, atdkit {our_warp:.2f} s"
        )


if __name__ == "__main__":
    main()
