"""Infidelity and max-sensitivity against Captum (test-only oracle) on the same perturbations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.metrics import infidelity as captum_infidelity
from xai_eval_faithfulness_metrics import Infidelity, MaxSensitivity

from xai_eval.errors import InputValidationError
from xai_eval.metrics.base import MetricSample
from xai_eval.metrics.robustness import infidelity, max_sensitivity


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten(),
                               torch.nn.Linear(16, 5)).double()


@pytest.mark.parametrize("seed", range(3))
def test_infidelity_matches_captum(seed):
    model = _model()
    rng = np.random.default_rng(seed)
    image = torch.from_numpy(rng.normal(size=(3, 8, 8)))
    saliency = torch.from_numpy(rng.random((8, 8)))
    noise = torch.from_numpy(rng.normal(0, 0.1, size=(6, 3, 8, 8)))

    def perturb(inputs):
        return noise, inputs - noise

    theirs = captum_infidelity(model, perturb, image[None], saliency.expand(3, 8, 8)[None],
                               n_perturb_samples=6, target=2)
    ours = infidelity(model, image, 2, saliency, noise)
    assert ours == pytest.approx(float(theirs[0]), rel=1e-9)


def test_max_sensitivity_matches_its_definition():
    """Brute-force oracle: max over the deltas of ||g(x+d) - g(x)|| / ||g(x)||, one call each.

    Captum 0.9.0's ``sensitivity_max`` on this very case returns exactly twice this value
    (0.0400 vs 0.0200) although its code computes the same ratio; not resolved yet
    (docs/metrics.md), so Captum is not used as the oracle here.
    """
    model = _model()
    rng = np.random.default_rng(5)
    image = torch.from_numpy(rng.normal(size=(3, 8, 8)))
    deltas = torch.from_numpy(rng.uniform(-0.02, 0.02, size=(4, 3, 8, 8)))

    def gradient(inputs, target=1):
        with torch.enable_grad():
            inputs = inputs.detach().clone().requires_grad_(True)
            model(inputs)[:, target].sum().backward()
        return inputs.grad.abs().sum(dim=1)[0]  # (H, W) map

    base = gradient(image[None])
    expected = max(float((gradient((image + d)[None]) - base).norm() / base.norm())
                   for d in deltas)
    assert max_sensitivity(lambda x: gradient(x[None]), image, deltas) == pytest.approx(expected)
    assert expected > 0


def test_hand_cases_and_checks():
    model = _model()
    image = torch.zeros(3, 4, 4, dtype=torch.float64)
    with pytest.raises(InputValidationError):
        infidelity(model, image, 0, torch.ones(4, 4), torch.zeros(2, 3, 5, 5))
    # no perturbation: the map predicts no change and there is none
    assert infidelity(model, image, 0, torch.ones(4, 4), torch.zeros(2, 3, 4, 4)) == 0.0
    # a constant explainer is perfectly stable
    assert max_sensitivity(lambda x: torch.ones(4, 4), image, torch.rand(3, 3, 4, 4)) == 0.0


def test_metric_classes_are_seeded_per_sample():
    from xai_eval.explain.base import Explainer  # noqa: F401  (the registry's base)
    from xai_eval.plugins import default_registries

    model = _model().float()
    registries = default_registries()
    explainer = registries.get("explainers", "backprop").cls(model)
    image = torch.randn(3, 8, 8, generator=torch.Generator().manual_seed(2))
    sample = MetricSample(image_id="a", gt_class=1, saliency=torch.rand(8, 8),
                          gt_boxes=torch.zeros((0, 4)), image=image, model=model,
                          explainer=explainer)
    assert Infidelity().update(sample) == Infidelity().update(sample)
    first = MaxSensitivity(n_perturbations=3).update(sample)
    assert first == MaxSensitivity(n_perturbations=3).update(sample)
    assert first["max_sensitivity"] >= 0.0
