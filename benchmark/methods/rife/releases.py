"""The RIFE releases atdkit runs, and how their ``flownet.pkl`` files are told apart and loaded strictly.

Every release is a bare state dict saved from DistributedDataParallel (keys start with ``module.``;
files without the prefix are read too). A file is loaded only when its tensors are exactly its
network's (names and shapes), plus the training-only parts the release is known to carry:

- HDv3: ``block_tea.*``, the distillation teacher, always there (``RIFE_HDv3.py`` loads strictly).
- 4.x: ``teacher.*`` and ``caltime.*``, kept by some releases (4.22 and 4.22.lite define them in
  ``IFNet_HDv3.py``; files of 4.18 and 4.26 are reported holding them: routineLife1/MultiPassDedup#6,
  Fannovel16/ComfyUI-Frame-Interpolation#138); Practical-RIFE's own loader drops them
  (``load_state_dict(..., False)``), and so does atdkit, whatever their shapes, and only them.

A file of another release atdkit knows is refused in one line naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch
from torch import nn

from atdkit.benchmark.checkpoint import CheckpointError, check_layout, layout_of, read_tensors, state_dict_of
from atdkit.benchmark.methods.rife.hdv3 import TEACHER_INPUTS, HDBlock, HDIFNet
from atdkit.benchmark.methods.rife.v4_6 import IFNet
from atdkit.benchmark.methods.rife.v4_15 import RIFE_4_15, RIFE_4_22, RIFE_4_22_LITE, RIFE_4_25, FeatureIFNet

PRACTICAL = "github.com/hzwer/Practical-RIFE's README"
VS_RIFE = "github.com/HolyWu/vs-rife/releases/download/model/"
TRAINING_ONLY_4X = ("teacher.", "caltime.")


@dataclass(frozen=True)
class Release:
    name: str  # the benchmark method
    title: str
    build: Callable[[], nn.Module]
    filename: str
    source: str  # where the file comes from
    same_layout: str = ""  # other releases whose files have this layout (and run on this network)
    teacher: Callable[[], nn.Module] | None = None  # a training-only module the file always holds, as ``block_tea``
    ignored: tuple[str, ...] = ()  # key prefixes of training-only tensors some files hold

    @cached_property
    def layout(self) -> dict[str, torch.Size]:
        """The names and shapes a file of this release holds (``ignored`` parts aside)."""
        with torch.device("meta"):
            layout = layout_of(self.build())
            if self.teacher is not None:
                layout |= {f"block_tea.{name}": shape for name, shape in layout_of(self.teacher()).items()}
        return layout

    @property
    def described(self) -> str:
        return f"a {self.title} flownet.pkl" + (
            f" (or {self.same_layout}: the same layout)" if self.same_layout else ""
        )

    def matches(self, state: dict[str, torch.Tensor]) -> bool:
        kept = {name: tensor for name, tensor in state.items() if not name.startswith(self.ignored)}
        return kept.keys() == self.layout.keys() and all(
            tuple(tensor.shape) == tuple(self.layout[name]) for name, tensor in kept.items()
        )

    def load(self, path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
        """The network with this release's weights from ``path``, strictly, in eval mode on ``device``;
        CheckpointError (one line naming the file) otherwise."""
        state = state_dict_of(read_tensors(path), path)
        if not self.matches(state):
            other = next((release for release in RELEASES.values() if release.matches(state)), None)
            if other is not None:
                raise CheckpointError(
                    f"{path}: looks like {other.described}, not {self.described}: run it as --methods {other.name}"
                )
            check_layout(state, self.layout, path, self.described, ignore=self.ignored)
        network = self.build()
        network.load_state_dict({name: state[name] for name in network.state_dict()}, strict=True)
        return network.to(device).eval()


RELEASES = {
    release.name: release
    for release in (
        Release(
            "rife-hdv3",
            "RIFE HDv3 (v3.6)",
            HDIFNet,
            "flownet_v3.6.pkl",
            "megvii-research/ECCV2022-RIFE's README, 'pretrained HD models' (RIFE_trained_model_v3.6.zip, "
            "drive.google.com/file/d/1APIzVeI-4ZZCEuIRE1m6WYfSCaOsi_7_): its train_log/flownet.pkl, renamed",
            teacher=lambda: HDBlock(TEACHER_INPUTS),
        ),
        Release(
            "rife-4.6",
            "RIFE 4.6",
            IFNet,
            "flownet_v4.6.pkl",
            "Practical-RIFE v4.6 of 2022-09-26 (train_log/flownet.pkl of the v4.6 zip linked from "
            f"{PRACTICAL} then: drive.google.com/file/d/1EAbsfY7mjnXNa6RAsATj2ImAEqmHTjbE; "
            f"or {VS_RIFE}flownet_v4.6.pkl)",
            ignored=TRAINING_ONLY_4X,
        ),
        Release(
            "rife-4.15",
            "RIFE 4.15",
            lambda: FeatureIFNet(RIFE_4_15),
            "flownet_v4.15.pkl",
            f"Practical-RIFE 4.15 of 2024-03-11 (train_log/flownet.pkl of the zip linked from {PRACTICAL}: "
            f"drive.google.com/file/d/1xlem7cfKoMaiLzjoeum8KIQTYO-9iqG5; or {VS_RIFE}flownet_v4.15.pkl)",
            same_layout="4.13, 4.14, 4.17, 4.18, 4.19, 4.24",
            ignored=TRAINING_ONLY_4X,
        ),
        Release(
            "rife-4.22",
            "RIFE 4.22",
            lambda: FeatureIFNet(RIFE_4_22),
            "flownet_v4.22.pkl",
            f"Practical-RIFE 4.22 of 2024-08-08 (train_log/flownet.pkl of the zip linked from {PRACTICAL}: "
            f"drive.google.com/file/d/1qh2DSA9a1eZUTtZG9U9RQKO7N7OaUJ0_; or {VS_RIFE}flownet_v4.22.pkl)",
            same_layout="4.21, 4.23",
            ignored=TRAINING_ONLY_4X,
        ),
        Release(
            "rife-4.22-lite",
            "RIFE 4.22.lite",
            lambda: FeatureIFNet(RIFE_4_22_LITE),
            "flownet_v4.22.lite.pkl",
            f"Practical-RIFE 4.22.lite (train_log/flownet.pkl of the zip linked from {PRACTICAL}: "
            f"drive.google.com/file/d/1Smy6gY7BkS_RzCjPCbMEy-TsX8Ma5B0R; or {VS_RIFE}flownet_v4.22.lite.pkl)",
            ignored=TRAINING_ONLY_4X,
        ),
        Release(
            "rife-4.25",
            "RIFE 4.25",
            lambda: FeatureIFNet(RIFE_4_25),
            "flownet_v4.25.pkl",
            f"Practical-RIFE 4.25 of 2024-09-19 (train_log/flownet.pkl of the zip linked from {PRACTICAL}: "
            f"drive.google.com/file/d/1ZKjcbmt1hypiFprJPIKW0Tt0lr_2i7bg; or {VS_RIFE}flownet_v4.25.pkl)",
            same_layout="4.26",
            ignored=TRAINING_ONLY_4X,
        ),
    )
}
