"""LPIPS against the lpips package itself, with seeded random backbones written by the test.

The lpips package builds its backbones with torchvision, whose wheel does not import beside the CPU
build of PyTorch; the test gives it a stand-in ``torchvision.models`` whose ``alexnet`` and ``vgg16``
return torchvision's layer lists, written out here from torchvision's definitions. Everything else
(slicing, scaling, normalisation, the linear heads it ships, averaging) is lpips's own code.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from atdkit.benchmark.checkpoint import CheckpointError
from atdkit.benchmark.scoring.lpips import LPIPS, LPIPSError, heads_file
from helpers import (
    backbone_file,
    needs_lpips,
    one_error,
    shared,
    tiny_atd_layout,
    torchvision_alexnet_features,
    torchvision_vgg16_features,
)


@pytest.fixture(scope="module")
def lpips_package():
    """The real lpips package, imported over a stand-in torchvision (restored afterwards)."""
    models = types.SimpleNamespace(
        alexnet=lambda pretrained=False, **_: types.SimpleNamespace(features=torchvision_alexnet_features()),
        vgg16=lambda pretrained=False, **_: types.SimpleNamespace(features=torchvision_vgg16_features()),
    )
    stand_in = types.ModuleType("torchvision")
    stand_in.models = models
    saved = {
        name: sys.modules.pop(name) for name in list(sys.modules) if name.split(".")[0] in ("torchvision", "lpips")
    }
    sys.modules["torchvision"], sys.modules["torchvision.models"] = stand_in, models
    try:
        import lpips

        yield lpips
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] in ("torchvision", "lpips")]:
            del sys.modules[name]
        sys.modules.update(saved)


def real_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """frame2 of the real 1080p triplet and the blend of its frames 1 and 3, at 480x270, in [-1, 1]."""
    folder = shared("triplets", "ccvfi_dragon_1080p")
    frames = [
        np.asarray(Image.open(folder / f"frame{n}.png").convert("RGB").resize((480, 270))) / 255.0 for n in (1, 2, 3)
    ]
    truth, blend = frames[1], (frames[0] + frames[2]) / 2
    return tuple(torch.from_numpy(x).permute(2, 0, 1)[None].float() * 2 - 1 for x in (blend, truth))


@needs_lpips
@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_equals_the_lpips_package_given_the_same_backbone(lpips_package, tmp_path, net):
    path, state = backbone_file(tmp_path, net, seed=3)
    reference = lpips_package.LPIPS(net=net, pnet_rand=True, verbose=False)  # its heads, a random trunk ...
    trunk = {}
    for name in reference.net.state_dict():  # ... given our weights: slice modules keep torchvision's indices
        trunk[name] = state[f"features.{name.split('.', 1)[1]}"]
    reference.net.load_state_dict(trunk)
    mine = LPIPS.from_files(net, path)
    first, second = real_pair()
    with torch.no_grad():
        expected = reference(first, second).flatten()
        expected_batch = reference(torch.cat([first, second]), torch.cat([second, second])).flatten()
    assert torch.allclose(mine(first, second), expected, rtol=0, atol=1e-6), (mine(first, second), expected)
    assert float(expected) > 0.01  # the frames differ, so this compares more than zeros
    assert torch.allclose(
        mine(torch.cat([first, second]), torch.cat([second, second])), expected_batch, rtol=0, atol=1e-6
    )
    assert float(mine(second, second)) == 0.0


@needs_lpips
def test_files_are_checked_with_one_line_errors(tmp_path):
    path, state = backbone_file(tmp_path, "alex", seed=4)
    with pytest.raises(
        CheckpointError, match=r"alex-random.pth: not a torchvision VGG-16 weight file: .*features.0.weight"
    ):
        LPIPS.from_files("vgg", path)
    with pytest.raises(CheckpointError, match="absent.pth: no such file"):
        LPIPS.from_files("alex", tmp_path / "absent.pth")
    heads = torch.load(heads_file("alex"), map_location="cpu", weights_only=True)
    del heads["lin4.model.1.weight"]
    torch.save(heads, tmp_path / "heads.pth")
    with pytest.raises(
        LPIPSError, match=r"heads.pth: not lpips's alex linear heads: 1 missing keys \(lin4.model.1.weight\)"
    ):
        LPIPS.from_files("alex", path, heads=tmp_path / "heads.pth")


def test_without_the_lpips_package_bench_stops_before_scoring_with_one_line(tmp_path, monkeypatch, capsys):
    """The lpips package's heads are found on sys.path; with no folder of it there, the run explains itself."""
    path, _ = backbone_file(tmp_path, "alex", seed=5)
    tiny_atd_layout(tmp_path / "atd", 1)
    import atdkit.benchmark.figures  # noqa: F401  (imports matplotlib, from the folder about to leave sys.path)

    monkeypatch.setattr(sys, "path", [entry for entry in sys.path if not Path(entry, "lpips").is_dir()])
    monkeypatch.delitem(sys.modules, "lpips", raising=False)
    with pytest.raises(LPIPSError, match=r"pip install --no-deps lpips .*so torchvision is not needed\)$"):
        heads_file("alex")
    error = one_error(
        capsys,
        "bench",
        "--data",
        tmp_path / "atd",
        "--methods",
        "blend",
        "--metrics",
        "lpips",
        "--weights",
        f"alexnet={path}",
        "--out",
        tmp_path / "r",
    )
    assert "pip install --no-deps lpips" in error
    assert not (tmp_path / "r").exists()
