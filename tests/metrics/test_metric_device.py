"""The torch (device) path of the map-only metrics against the numpy path.

Tests never need a GPU: the dispatch test forces the device path for CPU tensors, which
runs the very code a CUDA map runs; where a GPU is present the same checks run on it.
Counts, maxima, thresholds and boxes must be identical; the energy (a sum) within 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from xai_eval_localization_metrics import (
    EnergyPointingGame,
    LocalizationError,
    MaskIoU,
    MaxBoxAcc,
    PointingGame,
    PxAP,
)

from xai_eval.metrics import device
from xai_eval.metrics.base import MetricSample
from xai_eval.metrics.boxes import box_from_saliency
from xai_eval.metrics.localization import localization_correct
from xai_eval.metrics.masks import mask_overlap
from xai_eval.metrics.pointing import TIE_RULES, energy_in_region, pointing_hit
from xai_eval.metrics.wsol import (
    best_ious_per_threshold,
    pixel_histograms,
    pixel_levels,
    threshold_grid,
)

DEVICES = ["forced-cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def target_device(request, monkeypatch) -> torch.device:
    """The device maps are put on; for "forced-cpu" the CPU counts as an accelerator."""
    if request.param == "forced-cpu":
        monkeypatch.setattr(device, "on_accelerator", lambda v: isinstance(v, torch.Tensor))
        return torch.device("cpu")
    return torch.device(request.param)


def _cases(seed: int, count: int = 60):
    rng = np.random.default_rng(seed)
    for index in range(count):
        height, width = (int(v) for v in rng.integers(5, 20, 2))  # width 4 reads as boxes
        if index % 3 == 0:
            sal = rng.integers(0, 3, (height, width)).astype(np.float64)  # plateaus, ties
        else:
            sal = rng.normal(size=(height, width))
        if index % 10 == 0:
            sal[:] = 0.5  # constant
        mask = rng.random((height, width)) < rng.random() * 0.5
        x1, x2 = np.sort(rng.integers(0, width + 1, 2))
        y1, y2 = np.sort(rng.integers(0, height + 1, 2))
        yield sal, mask, np.array([[x1, y1, x2 + 1, y2 + 1]], dtype=np.float64)


def _on(sal: np.ndarray, where: torch.device) -> torch.Tensor:
    return torch.from_numpy(sal).float().to(where)


def test_pointing_and_energy_match_numpy(target_device) -> None:
    for sal, mask, boxes in _cases(0):
        sal = sal.astype(np.float32).astype(np.float64)  # the same values on both paths
        for tie in TIE_RULES:
            for tolerance in (0, 1.5, 4):
                assert pointing_hit(_on(sal, target_device), mask, tolerance, tie) == \
                    pointing_hit(sal, mask, tolerance, tie)
                assert pointing_hit(_on(sal, target_device), gt_boxes=boxes, tie=tie,
                                    tolerance=tolerance) == \
                    pointing_hit(sal, gt_boxes=boxes, tie=tie, tolerance=tolerance)
        for kwargs in ({"gt_mask": mask}, {"gt_boxes": boxes}):
            got = energy_in_region(_on(sal, target_device), **kwargs)
            want = energy_in_region(sal, **kwargs)
            assert (got is None) == (want is None)
            if want is not None:
                assert got == pytest.approx(want, rel=1e-12, abs=1e-15)


def test_resized_maps_match_numpy(target_device) -> None:
    rng = np.random.default_rng(1)
    coarse = rng.random((7, 7)).astype(np.float32).astype(np.float64)
    mask = np.zeros((32, 32), dtype=bool)
    mask[5:20, 8:30] = True
    assert pointing_hit(_on(coarse, target_device), mask) == pointing_hit(coarse, mask)
    assert mask_overlap(_on(coarse, target_device), mask) == mask_overlap(coarse, mask)
    levels = pixel_levels(threshold_grid(0.01))
    for got, want in zip(pixel_histograms(_on(coarse, target_device), mask, levels),
                         pixel_histograms(coarse, mask, levels), strict=True):
        assert np.array_equal(got, want)


def test_masks_histograms_and_boxes_match_numpy(target_device) -> None:
    levels = pixel_levels(threshold_grid(0.05))
    grid = threshold_grid(0.01)
    for sal, mask, boxes in _cases(2):
        sal = sal.astype(np.float32).astype(np.float64)
        on = _on(sal, target_device)
        for threshold in (0.0, 0.3, 0.5, 1.0):
            for normalization in ("max", "minmax"):
                assert mask_overlap(on, mask, threshold, normalization=normalization) == \
                    mask_overlap(sal, mask, threshold, normalization=normalization)
                for components in ("largest", "all"):
                    assert box_from_saliency(on, threshold, normalization, components) == \
                        box_from_saliency(sal, threshold, normalization, components)
        for got, want in zip(pixel_histograms(on, mask, levels), pixel_histograms(sal, mask, levels),
                             strict=True):
            assert np.array_equal(got, want)
        for connectivity in (4, 8):
            for got, want in zip(best_ious_per_threshold(on, boxes, grid, connectivity=connectivity),
                                 best_ious_per_threshold(sal, boxes, grid, connectivity=connectivity),
                                 strict=True):
                assert np.array_equal(got, want)


def test_localization_with_topk_maps_on_the_device(target_device) -> None:
    rng = np.random.default_rng(3)
    maps = rng.random((5, 16, 16)).astype(np.float32)
    boxes = [[2.0, 2.0, 9.0, 12.0]]
    for classes in ([3, 1, 0, 2, 4], [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]):
        got = localization_correct(1, boxes, _on(maps[1].astype(np.float64), target_device),
                                   torch.tensor(classes), torch.from_numpy(maps).to(target_device))
        want = localization_correct(1, boxes, maps[1], classes, maps)
        assert got == want


def test_metric_classes_give_the_same_records(target_device) -> None:
    rng = np.random.default_rng(4)
    metrics = [PointingGame(), EnergyPointingGame(), MaskIoU(), PxAP(), MaxBoxAcc(),
               LocalizationError()]
    for index, (sal, mask, boxes) in enumerate(_cases(5, 20)):
        sal32 = torch.from_numpy(sal).float()
        topk = torch.from_numpy(rng.random((5, *sal.shape))).float()
        common = dict(image_id=f"i{index}", gt_class=1, gt_boxes=torch.from_numpy(boxes),
                      gt_mask=torch.from_numpy(mask), image=torch.zeros(3, *sal.shape),
                      topk_classes=torch.tensor([1, 2, 3, 4, 0]))
        # numpy maps take the numpy path even where the CPU is forced to count as a device
        cpu = MetricSample(saliency=sal32.numpy(), topk_saliency=topk.numpy(), **common)
        moved = MetricSample(saliency=sal32.to(target_device),
                             topk_saliency=topk.to(target_device), **common)
        for metric in metrics:
            want, got = metric.score(cpu), metric.score(moved)
            assert got.keys() == want.keys()
            for key in want:
                if key == "energy" and want[key] is not None:
                    assert got[key] == pytest.approx(want[key], rel=1e-12)
                else:
                    assert got[key] == want[key], (metric.name, key)
