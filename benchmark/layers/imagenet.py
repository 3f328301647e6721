"""ImageNet classifiers' convolutional parts in torchvision's layout, built without torchvision.

``vgg_features(VGG16)``, ``vgg_features(VGG19)`` and ``alexnet_features()`` are the layer lists of
torchvision's ``vgg16().features``, ``vgg19().features`` and ``alexnet().features``, so that
torchvision's weight files (keys ``features.N.weight`` / ``features.N.bias``) load as they are:
:func:`load_features` reads one strictly, its classifier's keys ignored. Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from atdkit.benchmark.checkpoint import check_layout, read_tensors, state_dict_of

# channels of each 3x3 convolution, "M" a 2x2 max-pooling: torchvision's configurations "D" and "E"
VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
VGG19 = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")


def vgg_features(config: tuple) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for spec in config:
        if spec == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, spec, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = spec
    return nn.Sequential(*layers)


def alexnet_features() -> nn.Sequential:
    """AlexNet's five convolutions as torchvision numbers them (0, 3, 6, 8, 10)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )


def load_features(features: nn.Sequential, path: str | Path, what: str) -> None:
    """Load the ``features.*`` tensors of a torchvision weight file into ``features``, strictly (names and
    shapes); CheckpointError (one line naming the file) when it is not ``what``."""
    state = state_dict_of(read_tensors(path), path, container_key="state_dict")
    state = {key: value for key, value in state.items() if not key.startswith("classifier.")}
    expected = {f"features.{name}": tensor.shape for name, tensor in features.state_dict().items()}
    check_layout(state, expected, path, what)
    features.load_state_dict({key.removeprefix("features."): value for key, value in state.items()}, strict=True)
