"""``atdkit train``: train or fine-tune a method's network on an atdkit dataset (paper, section 4.4)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console

from atdkit.cli.bench import add_method_options, method_options
from atdkit.cli.common import Command, UsageError, add_device, add_weights, size_argument


def train_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help="a trainable method (an unknown name lists them)")
    parser.add_argument(
        "--data", type=Path, required=True, metavar="DATASET_DIR", help="atdkit dataset (its train split when split)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="RUN_DIR",
        help="run folder: last.pt, best.pt, history.csv, training.png",
    )
    add_weights(
        parser, "starting weights (the method's own file: fine-tuning) and the files its flows need (bench --list)"
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="train until this many steps")
    length.add_argument("--epochs", type=int, help="train until this many epochs (default 50, the paper's fine-tuning)")
    parser.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR from its last.pt")
    parser.add_argument(
        "--size",
        type=size_argument,
        default=(960, 540),
        metavar="WxH",
        help="frames are rescaled to this (default 960x540)",
    )
    parser.add_argument("--crop", type=int, default=380, help="side of the random square crops (default 380)")
    parser.add_argument("--batch-size", type=int, default=16, help="triplets per step, over all GPUs (default 16)")
    parser.add_argument(
        "--accumulate",
        type=int,
        default=1,
        metavar="N",
        help="run each step in N micro-batches, gradients accumulated: the same step in less memory (default 1)",
    )
    parser.add_argument("--lr", type=float, help="learning rate (default 1e-4 from scratch, 1e-6 fine-tuning)")
    parser.add_argument(
        "--schedule",
        default="constant",
        help="constant (default), step:EPOCHS:GAMMA, multistep:E1,E2,...:GAMMA or cosine",
    )
    parser.add_argument(
        "--val-fraction", type=float, default=0.1, help="share of the triplets held out, by source (default 0.1)"
    )
    parser.add_argument(
        "--save-every", type=int, default=500, help="steps between saves of last.pt (default 500; and each epoch)"
    )
    parser.add_argument("--no-amp", action="store_true", help="fp32 on the GPU too (default: fp16 autocast on CUDA)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="data-loading processes (default: CPU count, at most 4)",
    )
    add_device(parser)
    add_method_options(parser, "train")


def train(args: argparse.Namespace, console: Console) -> int:
    from atdkit.benchmark.training import TrainError, TrainSettings
    from atdkit.benchmark.training import train as train_method

    settings = TrainSettings(
        size=args.size,
        crop=args.crop,
        batch_size=args.batch_size,
        accumulate=args.accumulate,
        lr=args.lr,
        schedule=args.schedule,
        steps=args.steps,
        epochs=args.epochs,
        val_fraction=args.val_fraction,
        save_every=args.save_every,
        amp=not args.no_amp,
        seed=args.seed,
        workers=args.workers,
        device=args.device,
    )
    try:
        report = train_method(
            args.method,
            args.data,
            args.out,
            settings,
            weights=dict(args.weights),
            options=method_options(args, "train"),
            resume=args.resume,
            console=console,
        )
    except TrainError as error:
        raise UsageError(str(error)) from None
    except KeyboardInterrupt:
        console.print(
            "[yellow]atdkit train: interrupted[/]; continue with the same command and --resume "
            f"(from {args.out / 'last.pt'})"
        )
        return 130
    print_training(console, report)
    return 0


def print_training(console: Console, report) -> None:
    """Steps, speed and best validation PSNR of a finished run, and how to score it."""
    if not report.main:
        return
    best = (
        f"best validation PSNR {report.best_val_psnr:.2f} dB at step {report.best_step}"
        if report.best_val_psnr is not None
        else "not validated yet"
    )
    speed = f", {report.samples_per_second:.2f} samples/s" if report.samples_per_second else ""
    console.print(
        f"{report.method}: {report.steps} steps ({report.epochs} epochs){speed}; {best}; "
        f"{report.out} holds best.pt, last.pt, history.csv, training.png",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"score it: atdkit bench --methods {report.method} --weights {report.weights_key}={report.out / 'best.pt'} ...",
        highlight=False,
        soft_wrap=True,
    )


COMMANDS = (
    Command(
        "train", "train or fine-tune a method's network on an atdkit dataset (paper, section 4.4)", train_options, train
    ),
)
