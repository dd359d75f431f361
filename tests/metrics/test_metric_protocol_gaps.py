"""Protocol gaps found against reference code, each on a hand-computed case.

- ignore (void) pixels honoured by mask IoU, PxAP and the energy pointing game (VOC's
  label 255, wsolevaluation's ignore pixels), on the numpy and the device path;
- the pointing game's relative tie tolerance on float-noise plateaus;
- ``box_iou(inclusive=True)`` with an exclusive predicted box converted first.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from xai_eval_localization_metrics import EnergyPointingGame, MaskIoU, PointingGame, PxAP

from xai_eval.metrics import device
from xai_eval.metrics.base import MetricSample
from xai_eval.metrics.boxes import box_from_saliency, box_iou
from xai_eval.metrics.masks import mask_iou, mask_overlap
from xai_eval.metrics.pointing import energy_in_region, max_points, pointing_hit
from xai_eval.metrics.wsol import pixel_histograms, pixel_levels, pxap, threshold_grid


def _void_case():
    """A 6x6 image: object in rows 1-3, cols 1-3 (9 px); the void band is its ring (16 px).

    The map predicts a 4x4 block at rows 1-4, cols 1-4 (16 px): 9 on the object, 7 on the
    ring. Counted as background the ring costs IoU 9/16; left out it is 9/9.
    """
    mask = np.zeros((6, 6), dtype=bool)
    mask[1:4, 1:4] = True
    ring = np.zeros((6, 6), dtype=bool)
    ring[0:5, 0:5] = True
    ring[1:4, 1:4] = False
    sal = np.zeros((6, 6))
    sal[1:5, 1:5] = 1.0
    return sal, mask, ring


def test_mask_iou_leaves_void_out_of_intersection_and_union():
    sal, mask, ring = _void_case()
    assert mask_overlap(sal, mask) == (9, 16)
    assert mask_iou(sal, mask) == pytest.approx(9 / 16)
    # ignored: predicted ring pixels (7) are no false positives; the union is 9
    assert mask_overlap(sal, mask, ignore_mask=ring) == (9, 9)
    assert mask_iou(sal, mask, ignore_mask=ring) == 1.0
    # ignore wins over the mask where both are set
    assert mask_overlap(sal, mask, ignore_mask=mask) == (0, 7)  # the 7 predicted ring pixels


def test_pxap_void_pixels_are_neither_positive_nor_negative():
    # 1x4 map, scores 1.0, 0.8, 0.6, 0.0; pixel 0 and 2 are object, pixel 1 is void
    sal = np.array([[1.0, 0.8, 0.6, 0.0]])
    mask = np.array([[True, False, True, False]])
    void = np.array([[False, True, False, False]])
    # without ignore: ranks 1.0(P) 0.8(N) 0.6(P) 0.0(N): AP = 1*1/2 + 2/3*1/2 = 5/6
    assert pxap([sal], [mask], threshold_step=0.1) == pytest.approx(5 / 6)
    # pixel 1 left out: P, P, N -> AP = 1
    assert pxap([sal], [mask], threshold_step=0.1, ignore_masks=[void]) == pytest.approx(1.0)
    levels = pixel_levels(threshold_grid(0.1))
    pos, neg = pixel_histograms(sal, mask, levels, ignore_mask=void)
    assert (pos.sum(), neg.sum()) == (2, 1)


def test_energy_leaves_void_out_of_region_and_total():
    sal, mask, ring = _void_case()
    assert energy_in_region(sal, mask) == pytest.approx(9 / 16)
    assert energy_in_region(sal, mask, ignore_mask=ring) == pytest.approx(1.0)
    assert energy_in_region(sal, mask, ignore_mask=mask) is None  # nothing left of the object


def test_device_path_honours_void_identically(monkeypatch):
    monkeypatch.setattr(device, "on_accelerator", lambda v: isinstance(v, torch.Tensor))
    sal, mask, ring = _void_case()
    t = torch.from_numpy(sal)
    assert mask_overlap(t, mask, ignore_mask=ring) == (9, 9)
    assert energy_in_region(t, mask, ignore_mask=ring) == pytest.approx(1.0)
    levels = pixel_levels(threshold_grid(0.01))
    rng = np.random.default_rng(0)
    noisy = rng.random((6, 6))
    expected = pixel_histograms(noisy, mask, levels, ignore_mask=ring)
    got = pixel_histograms(torch.from_numpy(noisy), mask, levels, ignore_mask=ring)
    assert np.array_equal(expected[0], got[0]) and np.array_equal(expected[1], got[1])


def test_metric_classes_read_the_sample_ignore_mask():
    sal, mask, ring = _void_case()
    sample = MetricSample(image_id="a", gt_class=1, saliency=torch.from_numpy(sal),
                          gt_boxes=torch.zeros((0, 4)), gt_mask=torch.from_numpy(mask),
                          ignore_mask=torch.from_numpy(ring))
    plain = MetricSample(image_id="a", gt_class=1, saliency=torch.from_numpy(sal),
                         gt_boxes=torch.zeros((0, 4)), gt_mask=torch.from_numpy(mask))
    iou = MaskIoU()
    iou.update(sample)
    assert iou.compute()["miou"] == 1.0
    iou_plain = MaskIoU()
    iou_plain.update(plain)
    assert iou_plain.compute()["miou"] == pytest.approx(9 / 16)
    energy = EnergyPointingGame(region="mask")
    energy.update(sample)
    assert energy.compute()["energy"] == pytest.approx(1.0)
    ap = PxAP()
    ap.update(sample)
    assert ap.compute()["pxap"] == pytest.approx(1.0)


def test_tie_tolerance_joins_float_noise_plateaus():
    # a plateau of two pixels whose values differ by one float32 ulp, far apart
    sal = np.zeros((20, 20))
    peak = np.float32(0.7)
    sal[2, 2] = float(peak)
    sal[17, 17] = float(np.nextafter(peak, np.float32(0)))
    mask = np.zeros((20, 20), dtype=bool)
    mask[0:5, 0:5] = True  # only the first peak is on the object
    # exact equality: one maximum (2, 2) -> a hit; the tolerance ties both -> reject misses
    assert len(max_points(sal)) == 1
    assert len(max_points(sal, 1e-6)) == 2
    assert pointing_hit(sal, mask, tolerance=3, tie_tolerance=0.0) is True
    assert pointing_hit(sal, mask, tolerance=3) is False
    assert pointing_hit(sal, mask, tolerance=3, tie="any") is True
    # a real difference (1e-3 relative) is never a tie
    sal[17, 17] = 0.7 * (1 - 1e-3)
    assert pointing_hit(sal, mask, tolerance=3) is True


def test_tie_tolerance_device_path_and_class_parameter(monkeypatch):
    sal = np.zeros((20, 20))
    sal[2, 2], sal[17, 17] = 0.7, 0.7 * (1 - 1e-7)
    mask = np.zeros((20, 20), dtype=bool)
    mask[0:5, 0:5] = True
    monkeypatch.setattr(device, "on_accelerator", lambda v: isinstance(v, torch.Tensor))
    assert pointing_hit(torch.from_numpy(sal), mask, tolerance=3) is False
    assert pointing_hit(torch.from_numpy(sal), mask, tolerance=3, tie_tolerance=0) is True
    sample = MetricSample(image_id="a", gt_class=0, saliency=torch.from_numpy(sal),
                          gt_boxes=torch.zeros((0, 4)), gt_mask=torch.from_numpy(mask))
    for tie_tolerance, expected in ((1e-6, 0.0), (0.0, 1.0)):
        game = PointingGame(tolerance=3, tie_tolerance=tie_tolerance)
        game.update(sample)
        assert game.compute()["accuracy"] == expected


def test_box_iou_inclusive_converts_an_exclusive_predicted_box():
    sal = np.zeros((20, 20))
    sal[0:10, 0:10] = 1.0
    (predicted,) = box_from_saliency(sal, 0.5)
    assert predicted == [0, 0, 10, 10]  # exclusive: x2 = last column + 1
    inclusive_gt = [[0, 0, 9, 9]]  # the same block in integer pixel indices
    assert box_iou([predicted], inclusive_gt, inclusive=True)[0, 0] == pytest.approx(100 / 121)
    assert box_iou([predicted], inclusive_gt, inclusive=True, a_exclusive=True)[0, 0] == 1.0
    # exclusive against exclusive needs no conversion
    assert box_iou([predicted], [predicted])[0, 0] == 1.0
