"""ROAD's noisy linear imputation and MoRF/LeRF against pytorch-grad-cam (test-only oracle)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_grad_cam.metrics.perturbation_confidence import (
    PerturbationConfidenceMetric,
    RemoveLeastRelevantFirst,
    RemoveMostRelevantFirst,
)
from pytorch_grad_cam.metrics.road import NoisyLinearImputer
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget
from xai_eval_faithfulness_metrics import Road

from xai_eval.errors import InputValidationError
from xai_eval.metrics.base import MetricSample
from xai_eval.metrics.imputation import linear_impute, road_curves


@pytest.mark.parametrize("seed", range(3))
def test_imputation_matches_pytorch_grad_cam(seed):
    rng = np.random.default_rng(seed)
    image = torch.from_numpy(rng.normal(size=(3, 9, 11)).astype(np.float32))
    keep = rng.random((9, 11)) > 0.4
    theirs = NoisyLinearImputer(noise=0.0)(image, torch.from_numpy(keep.astype(np.float32)))
    ours = linear_impute(image, ~keep, noise=0.0)
    assert torch.allclose(ours, theirs, atol=1e-6)
    assert torch.equal(ours[:, torch.from_numpy(keep)], image[:, torch.from_numpy(keep)])


def test_imputation_hand_case():
    # one removed pixel in the middle of a 3x3 image: the weighted neighbour mean
    image = torch.arange(9, dtype=torch.float64).reshape(1, 3, 3)
    removed = np.zeros((3, 3), dtype=bool)
    removed[1, 1] = True
    out = linear_impute(image, removed, noise=0.0)
    expected = (1 + 3 + 5 + 7) / 6 + (0 + 2 + 6 + 8) / 12
    assert float(out[0, 1, 1]) == pytest.approx(expected)
    with pytest.raises(InputValidationError):
        linear_impute(image, np.ones((3, 3), dtype=bool), noise=0.0)
    with pytest.raises(InputValidationError):
        linear_impute(image, removed, noise=0.1)  # noise needs the sample's generator
    a = linear_impute(image, removed, 0.1, torch.Generator().manual_seed(3))
    b = linear_impute(image, removed, 0.1, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(),
                               torch.nn.Linear(16, 5))


def test_morf_lerf_match_pytorch_grad_cam_without_noise():
    model = _model()
    rng = np.random.default_rng(4)
    image = torch.from_numpy(rng.normal(size=(3, 10, 10)).astype(np.float32))
    cam = rng.random((10, 10)).astype(np.float32)
    percentiles = (20, 50, 80)
    before, morf, lerf = road_curves(model, image, 1, cam, percentiles, noise=0.0)
    targets = [ClassifierOutputSoftmaxTarget(1)]
    for p, ours_m, ours_l in zip(percentiles, morf, lerf, strict=True):
        m = PerturbationConfidenceMetric(RemoveMostRelevantFirst(p, NoisyLinearImputer(0.0)))
        lo = PerturbationConfidenceMetric(RemoveLeastRelevantFirst(p, NoisyLinearImputer(0.0)))
        theirs_m = m(image[None], cam[None], targets, model, return_diff=False)[0]
        theirs_l = lo(image[None], cam[None], targets, model, return_diff=False)[0]
        assert ours_m == pytest.approx(float(theirs_m), abs=1e-5)
        assert ours_l == pytest.approx(float(theirs_l), abs=1e-5)
    assert 0 < before < 1


def test_road_metric_is_reproducible_per_sample():
    model = _model()
    image = torch.randn(3, 10, 10, generator=torch.Generator().manual_seed(1))
    sample = MetricSample(image_id="a", gt_class=2, saliency=torch.rand(10, 10),
                          gt_boxes=torch.zeros((0, 4)), image=image, model=model)
    first, second = Road().update(sample), Road().update(sample)
    assert first == second
    assert first["combined"] == pytest.approx((first["lerf"] - first["morf"]) / 2)
