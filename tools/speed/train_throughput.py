"""Training throughput of a method's network: samples/s with the paper's recipe (380x380 crops, batch 16).

    python tools/speed/train_throughput.py [--method animeinterp] [--crop 380] [--batch 16] [--accumulate 1]
        [--steps 3] [--threads N]

Times ``atdkit.benchmark.training.Trainer.step`` (forward, L1 loss, backward, Adam step) on random
crops: the network's part of ``atdkit train``, without data loading (which runs in worker
processes beside it). Networks that take flows in training (the method's ``trainable.flows``:
AnimeInterp's SGM flows) get random ones. On the CPU: fp32 with ``--threads`` intra-op threads
(default: all cores); with a CUDA GPU, fp32 and fp16 (autocast with gradient scaling) with
peak GPU memory. One warm-up step, then ``--steps`` timed steps; the median is printed, with
the peak resident memory of the process and the load average (on a shared machine the numbers
are only as good as it is idle).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

import torch

from atdkit.benchmark import methods as registry
from atdkit.benchmark.training import Trainer
from atdkit.benchmark.training.schedule import Schedule


def measure(method, device: torch.device, crop: int, batch_size: int, accumulate: int, steps: int, amp: bool) -> float:
    """Median seconds per training step."""
    torch.manual_seed(0)
    network = method.trainable.build({}).to(device).train()
    trainer = Trainer(method, network, device, 1e-4, Schedule("constant"), amp)
    batch = {"frames": torch.randint(0, 256, (batch_size, 3, 3, crop, crop), dtype=torch.uint8)}
    if method.trainable.flows is not None:
        batch["flows"] = torch.randn(batch_size, 2, 2, crop, crop) * 4
    seconds = []
    for index in range(steps + 1):
        started = time.perf_counter()
        trainer.step(batch, accumulate)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if index:  # the first step warms up
            seconds.append(time.perf_counter() - started)
        print(f"  step {index}: {time.perf_counter() - started:.1f} s{' (warm-up)' if not index else ''}", flush=True)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="animeinterp")
    parser.add_argument("--crop", type=int, default=380)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--accumulate", type=int, default=1, help="micro-batches per step (atdkit train --accumulate)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    method = registry.get(args.method)
    print(
        f"{method.name}: training steps at {args.crop}x{args.crop}, "
        f"batch {args.batch} in {args.accumulate} micro-batch(es); "
        f"load average before: {', '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    if torch.cuda.is_available():
        device = torch.device("cuda")
        for amp in (False, True):
            torch.cuda.reset_peak_memory_stats(device)
            seconds = measure(method, device, args.crop, args.batch, args.accumulate, args.steps, amp)
            print(
                f"{torch.cuda.get_device_name(device)}, {'fp16 autocast' if amp else 'fp32'}: "
                f"{seconds:.3f} s per step, {args.batch / seconds:.1f} samples/s, "
                f"peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB"
            )
    seconds = measure(method, torch.device("cpu"), args.crop, args.batch, args.accumulate, args.steps, amp=False)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"CPU ({args.threads} threads), fp32: {seconds:.1f} s per step, {args.batch / seconds:.3f} samples/s, "
        f"peak resident memory {peak:.1f} GiB; load average after: {', '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
