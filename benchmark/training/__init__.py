"""``atdkit train``: train or fine-tune a benchmark method's network on ATD-style triplets (paper, section 4.4).

    from atdkit.benchmark.training import TrainSettings, train
    report = train("animeinterp", "my_dataset", "runs/ft", TrainSettings(epochs=50),
                   weights={"animeinterp": "anime_interp_full.ckpt", "vgg19": "vgg19-dcbb9e9d.pth"})

Modules: ``settings`` (what a run is asked), ``data`` (triplets, crops, order; the flows a
network takes come from its method's ``TrainingFlows``), ``schedule`` (learning-rate schedules), ``loop`` (the
steps, validation, mixed precision, several GPUs), ``checkpoints`` (last.pt, best.pt,
--resume), ``history`` (history.csv, training.png), ``distributed`` (torchrun).
"""

from atdkit.benchmark.training.loop import Trainer, TrainReport, train
from atdkit.benchmark.training.settings import TrainError, TrainSettings

__all__ = ["TrainError", "TrainReport", "TrainSettings", "Trainer", "train"]
