"""SGM's shortcuts give the results of the straightforward computation: the landing test decided from
float64 sums, and flows computed ahead of their batch (``atdkit bench``'s reading threads)."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from atdkit.benchmark.methods.animeinterp.method import SGMFlows
from atdkit.benchmark.methods.animeinterp.sgm import VGGFeatures, compute_sgm
from atdkit.benchmark.methods.animeinterp.sgm.flow_generation import LANDED, landed_by_splatting, landed_surely
from helpers import SHAPES, cartoon


def test_landing_is_decided_as_float32_splatting_decides_it():
    rng = np.random.default_rng(5)
    decided = 0
    for _ in range(40):
        mask = cv2.dilate((rng.random((40, 56)) < 0.02).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        flow = cv2.resize(rng.normal(0, 6, (4, 5, 2)).astype(np.float32), (56, 40)) + rng.normal(0, 0.3, (40, 56, 2))
        landed = landed_surely(mask, flow.astype(np.float32))
        if landed is not None:
            decided += 1
            assert np.array_equal(landed, landed_by_splatting(mask, flow.astype(np.float32)))
    assert decided >= 35
    # a target whose average is exactly the threshold is left to the float32 splatting
    mask = np.zeros((6, 40), bool)
    mask[3, :1] = True  # 1 of the 20 pixels landing on one target: an average of 0.05
    flow = np.zeros((6, 40, 2), np.float32)
    flow[3, :20, 0] = np.arange(20, 0, -1) - 1  # pixels 0..19 of row 3 all land on its pixel 19
    assert landed_surely(mask, flow) is None
    assert landed_by_splatting(mask, flow)[3, 19] == (np.float32(1 / 20) >= np.float32(LANDED))


def test_flows_prepared_ahead_are_the_batchs_own(tmp_path):
    torch.manual_seed(0)
    vgg = VGGFeatures().eval()
    frames = [torch.from_numpy(cartoon(SHAPES, t)).permute(2, 0, 1)[None].float() / 255 for t in (0, 1)]
    expected = compute_sgm(*(cartoon(SHAPES, t) for t in (0, 1)), vgg, style="japan")[:2]
    flows = SGMFlows(vgg, "japan", None, "")
    flows.prepare(*frames, ["a"])
    assert set(flows.prepared) == {"a"}
    for ids in (["a"], ["b"]):  # taken from what was prepared, and computed in the batch
        flow01, flow10 = flows(*frames, None, ids)
        assert np.array_equal(flow01[0].numpy(), expected[0]) and np.array_equal(flow10[0].numpy(), expected[1])
    assert not flows.prepared
    flows.prepare(*frames, ["c"])  # other frames under the same id: computed again
    moved = frames[0].roll(3, dims=3)
    assert not np.array_equal(flows(moved, frames[1], None, ["c"])[0][0].numpy(), expected[0])
