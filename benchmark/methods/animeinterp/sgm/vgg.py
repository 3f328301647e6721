"""VGG-19 features for colour-piece matching (section 4.1, "Feature Collection").

The layer list is torchvision's ``vgg19().features`` (:mod:`atdkit.benchmark.layers.imagenet`, so its
weight files load as they are). Weights come from a file the user names (torchvision's
``vgg19-dcbb9e9d.pth``: keys ``features.N.weight`` / ``features.N.bias``; the classifier's
keys are ignored); nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from atdkit.benchmark.layers.imagenet import VGG19, load_features, vgg_features

# indices in ``features`` of the layers whose outputs are pooled (full, 1/2, 1/4, 1/8 resolution)
LAYERS = {
    "code": (1, 6, 11, 20),  # relu1_1, relu2_1, relu3_1, relu4_1: what the official code used
    "paper": (3, 8, 17, 26),  # relu1_2, relu2_2, relu3_4, relu4_4: what the paper names
}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGFeatures(nn.Module):
    """The four VGG-19 feature maps SGM pools per colour piece."""

    def __init__(self, layers: str = "code"):
        super().__init__()
        if layers not in LAYERS:
            raise ValueError(f"unknown VGG layer choice {layers!r}; expected one of {', '.join(LAYERS)}")
        self.taps = LAYERS[layers]
        self.features = vgg_features(VGG19)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.to(memory_format=torch.channels_last)  # faster convolutions, same values

    @classmethod
    def from_file(cls, path: str | Path, layers: str = "code", device: str | torch.device = "cpu") -> VGGFeatures:
        """VGG-19 with the weights of a torchvision-format file; CheckpointError (one line) when it is not one."""
        model = cls(layers)
        load_features(model.features, path, "a torchvision VGG-19 weight file")
        return model.to(device).eval()

    @torch.no_grad()
    def forward(self, *frames: np.ndarray) -> list[torch.Tensor]:
        """Feature maps (N, C, h, w) at the four taps for RGB uint8 frames (H, W, 3) of one size, run as one batch."""
        x = torch.from_numpy(np.stack(frames) / 255.0).permute(0, 3, 1, 2).float().to(self.mean.device)
        x = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        outputs = []
        for index, layer in enumerate(self.features[: self.taps[-1] + 1]):
            x = layer(x)
            if index in self.taps:
                outputs.append(x)
        return outputs
