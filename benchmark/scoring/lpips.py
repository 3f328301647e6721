"""LPIPS (Zhang et al., CVPR 2018) as the ``lpips`` package computes it, in plain PyTorch.

An ImageNet backbone (AlexNet or VGG-16 in torchvision's layout, :mod:`atdkit.benchmark.layers.imagenet`)
gives five feature maps of each image, after lpips's scaling layer; each map is normalised along
its channels, the squared difference is weighed by a learned 1x1 convolution ("linear head"), then
averaged over the image, and the five averages are summed. The linear heads are the files the
``lpips`` package ships (``lpips/weights/v0.1/alex.pth``, ``vgg.pth``), read from where it is
installed without importing it (importing it needs torchvision); the backbone is the torchvision
file the user names (``--weights alexnet=... vgg16=...``). Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from atdkit.benchmark.checkpoint import CheckpointError, check_layout, read_tensors, state_dict_of
from atdkit.benchmark.layers.imagenet import VGG16, alexnet_features, load_features, vgg_features

# per network: torchvision's layers, where its five slices end (exclusive), their channels, the heads' file name
NETWORKS = {
    "alex": (alexnet_features, (2, 5, 8, 10, 12), (64, 192, 384, 256, 256), "alex.pth", "AlexNet"),
    "vgg": (lambda: vgg_features(VGG16), (4, 9, 16, 23, 30), (64, 128, 256, 512, 512), "vgg.pth", "VGG-16"),
}
SHIFT = (-0.030, -0.088, -0.188)  # lpips's ScalingLayer, for inputs in [-1, 1]
SCALE = (0.458, 0.448, 0.450)
EPSILON = 1e-10  # lpips's normalize_tensor


class LPIPSError(Exception):
    """LPIPS cannot be set up (the lpips package's heads absent, a wrong backbone file); one line."""


def heads_file(net: str) -> Path:
    """The linear heads the installed ``lpips`` package ships for ``net`` (v0.1), found without importing it."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        raise LPIPSError(
            "LPIPS needs the linear heads shipped in the lpips package: pip install --no-deps lpips "
            "(atdkit reads its weight files and never imports it, so torchvision is not needed)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "v0.1" / NETWORKS[net][3]
    if not path.is_file():
        raise LPIPSError(
            f"{path}: no such file in the installed lpips package (reinstall it: pip install --no-deps lpips)"
        )
    return path


class LPIPS(nn.Module):
    """``lpips.LPIPS(net=net)`` in eval mode: call it on two (N, 3, H, W) batches in [-1, 1] for (N,) distances.

    Loaded by :meth:`from_files`, it runs channels-last (a fifth faster on the CPU, the same values to 1e-6).
    """

    def __init__(self, net: str = "alex"):
        super().__init__()
        build, self.ends, channels, _, _ = NETWORKS[net]
        self.net = net
        self.features = build()
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, kernel_size=1, bias=False) for c in channels)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)

    @classmethod
    def from_files(cls, net: str, backbone: str | Path, heads: str | Path | None = None, device="cpu") -> LPIPS:
        """The backbone from a torchvision weight file, the heads from lpips's (its installed file by default);
        LPIPSError or CheckpointError (one line naming the file) when one does not fit."""
        model = cls(net)
        load_features(model.features, backbone, f"a torchvision {NETWORKS[net][4]} weight file")
        heads = Path(heads) if heads else heads_file(net)
        state = state_dict_of(read_tensors(heads), heads)
        expected = {f"lin{i}.model.1.weight": head.weight.shape for i, head in enumerate(model.heads)}
        try:
            check_layout(state, expected, heads, f"lpips's {net} linear heads")
        except CheckpointError as error:
            raise LPIPSError(str(error)) from None
        for i, head in enumerate(model.heads):
            head.weight.data.copy_(state[f"lin{i}.model.1.weight"])
        return model.to(device, memory_format=torch.channels_last).eval().requires_grad_(False)

    def _maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        x, maps, start = ((images - self.shift) / self.scale).contiguous(memory_format=torch.channels_last), [], 0
        for end in self.ends:
            for layer in self.features[start:end]:
                x = layer(x)
            maps.append(x / (x.square().sum(dim=1, keepdim=True).sqrt() + EPSILON))
            start = end
        return maps

    @torch.no_grad()
    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        distance = 0
        for head, a, b in zip(self.heads, self._maps(first), self._maps(second)):
            distance = distance + head((a - b).square()).mean(dim=(2, 3))
        return distance[:, 0]
