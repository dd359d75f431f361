"""Average drop / increase in confidence against pytorch-grad-cam (test-only oracle)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pytorch_grad_cam.metrics.cam_mult_image import DropInConfidence, IncreaseInConfidence
from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget
from xai_eval_faithfulness_metrics import AverageDrop

from xai_eval.errors import InputValidationError
from xai_eval.metrics.base import MetricContext, MetricSample
from xai_eval.metrics.confidence import average_drop, confidence_change


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(),
                               torch.nn.Linear(16, 5))


@pytest.mark.parametrize("seed", range(4))
def test_confidence_change_matches_pytorch_grad_cam(seed):
    model = _model()
    rng = np.random.default_rng(seed)
    image = torch.from_numpy(rng.normal(size=(3, 12, 12)).astype(np.float32))
    cam = rng.random((12, 12)).astype(np.float32)
    cam /= cam.max()  # already max-normalised: both sides multiply by the same weights
    target = int(rng.integers(0, 5))
    before, after = confidence_change(model, image, target, cam)
    targets = [ClassifierOutputSoftmaxTarget(target)]
    drop = DropInConfidence()(image[None], cam[None], targets, model)[0]
    increase = IncreaseInConfidence()(image[None], cam[None], targets, model)[0]
    assert max(0.0, before - after) == pytest.approx(float(drop), abs=1e-6)
    assert (after > before) == bool(increase)


def test_average_drop_hand_case_and_class_aggregate():
    assert average_drop(0.8, 0.2) == pytest.approx(0.75)
    assert average_drop(0.5, 0.9) == 0.0
    assert average_drop(0.0, 0.1) == 0.0
    metric = AverageDrop()
    for before, after in ((0.8, 0.2), (0.5, 0.9), (0.4, 0.4)):
        metric.absorb({"drop": average_drop(before, after), "increase": after > before}, 0)
    out = metric.compute()
    assert out["average_drop"] == pytest.approx(100 * 0.75 / 3)
    assert out["increase_in_confidence"] == pytest.approx(100 / 3)


def test_metric_class_scores_a_sample_and_checks_output():
    model = _model()
    image = torch.randn(3, 12, 12, generator=torch.Generator().manual_seed(1))
    sample = MetricSample(image_id="a", gt_class=2, saliency=torch.rand(12, 12),
                          gt_boxes=torch.zeros((0, 4)), image=image,
                          context=MetricContext(model=model))
    record = AverageDrop().update(sample)
    assert 0.0 <= record["drop"] <= 1.0 and isinstance(record["increase"], bool)
    with pytest.raises(InputValidationError):
        confidence_change(model, image, 0, torch.rand(12, 12), output="probits")
