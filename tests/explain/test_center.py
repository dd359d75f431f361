"""The centre baseline: exact Gaussian values, peak placement, and independence of model and class."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
from xai_eval_perturbation.center import center_gaussian

import xai_eval
from xai_eval.errors import InputValidationError
from xai_eval.explain.state import count_hooks


def tiny_model(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(2, 4))


def test_values_are_the_gaussian_formula() -> None:
    x = torch.zeros(1, 3, 16, 16, dtype=torch.float64)
    raw = xai_eval.get_explainer("center", tiny_model(0).double(), sigma=0.25).attribute(x, 0)
    gauss = raw[0, 0]
    s = 0.25 * 16  # 4 px
    assert gauss[8, 8].item() == 1.0
    for dy, dx in [(0, 1), (3, 0), (-4, 2), (-8, -8), (7, 7)]:
        expected = math.exp(-(dy * dy + dx * dx) / (2 * s * s))
        assert gauss[8 + dy, 8 + dx].item() == pytest.approx(expected, rel=1e-15)
    assert gauss[8, 8 + 4].item() == pytest.approx(math.exp(-0.5), rel=1e-15)  # one sigma


def test_peak_is_torchray_centre_point() -> None:
    """TorchRay's centre method points at (w/2, h/2); the pixel-centred map peaks there alone."""
    for height, width in [(224, 224), (10, 14), (7, 9)]:
        gauss = center_gaussian(height, width, 0.3)
        peak = int(gauss.argmax())
        assert divmod(peak, width) == (height // 2, width // 2)
        assert int((gauss == gauss.max()).sum()) == 1


def test_geometric_centre_is_symmetric() -> None:
    gauss = center_gaussian(6, 8, 0.2, "geometric", dtype=torch.float64)
    torch.testing.assert_close(gauss, gauss.flip(0), rtol=0, atol=0)
    torch.testing.assert_close(gauss, gauss.flip(1), rtol=0, atol=0)
    assert int((gauss == gauss.max()).sum()) == 4
    assert gauss.max().item() == pytest.approx(math.exp(-(0.25 + 0.25) / (2 * 1.2**2)), rel=1e-15)


def test_isotropic_on_non_square_images() -> None:
    gauss = center_gaussian(8, 20, 0.25, dtype=torch.float64)  # sigma = 0.25 * 8 = 2 px
    assert gauss[4, 10 + 3].item() == pytest.approx(gauss[4 + 3, 10].item(), rel=1e-15)
    assert gauss[4, 12].item() == pytest.approx(math.exp(-0.5), rel=1e-15)


def test_independent_of_model_image_and_class() -> None:
    x1 = torch.randn(2, 3, 12, 12)
    x2 = torch.randn(2, 3, 12, 12)
    a = xai_eval.get_explainer("center", tiny_model(0))(x1, torch.tensor([[0, 1, 2], [3, 0, 1]]))
    b = xai_eval.get_explainer("center", tiny_model(1))(x2, torch.tensor([[3, 3, 3], [1, 1, 1]]))
    assert a.shape == (2, 3, 12, 12) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert torch.equal(a[0, 0], a[1, 2])


def test_scores_state_and_bad_sigma() -> None:
    model = tiny_model(0)
    model.train()
    x = torch.randn(2, 3, 10, 10)
    explanation = xai_eval.get_explainer("center", model).explain(x, torch.tensor([1, 3]))
    model.eval()
    with torch.no_grad():
        expected = model(x)[:, [1, 3]].diagonal().unsqueeze(1)
    model.train()
    torch.testing.assert_close(explanation.scores, expected)
    assert explanation.maps_as_requested().shape == (2, 10, 10)
    assert model.training and count_hooks(model) == 0
    for bad in (0.0, -1.0, float("nan"), "wide"):
        with pytest.raises(InputValidationError, match="sigma must be a positive finite"):
            xai_eval.get_explainer("center", model, sigma=bad)
    with pytest.raises(InputValidationError, match="center must be one of"):
        xai_eval.get_explainer("center", model, center="middle")
