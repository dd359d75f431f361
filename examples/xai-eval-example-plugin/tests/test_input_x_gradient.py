"""The example plugin's own test: Input x Gradient against its closed form on a linear model."""

from __future__ import annotations

import torch
import torch.nn as nn
from xai_eval_example_plugin import InputXGradient


def linear_model(classes: int = 4, size: int = 6) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * size * size, classes))


def test_attribution_is_input_times_weight_row() -> None:
    model = linear_model()
    images = torch.randn(2, 3, 6, 6)
    targets = torch.tensor([[1, 3], [0, 2]])
    weight = model[1].weight.detach().reshape(4, 3, 6, 6)

    raw = InputXGradient(model).attribute(images, targets)  # (B, K, 3, H, W)

    expected = images[:, None] * weight[targets]
    torch.testing.assert_close(raw, expected, rtol=1e-6, atol=1e-6)


def test_map_sums_absolute_contributions_over_channels() -> None:
    model = linear_model()
    images = torch.randn(1, 3, 6, 6)
    weight = model[1].weight.detach().reshape(4, 3, 6, 6)

    maps = InputXGradient(model)(images, 2)  # (B, H, W)

    torch.testing.assert_close(maps[0], (images[0] * weight[2]).abs().sum(0))


def test_contributions_add_up_to_the_score_minus_bias() -> None:
    # Completeness holds exactly for a linear model: sum_i x_i W[c, i] = y_c - b_c.
    model = linear_model()
    images = torch.randn(3, 3, 6, 6)
    raw = InputXGradient(model).attribute(images, 1)
    scores = model(images)[:, 1] - model[1].bias[1]
    torch.testing.assert_close(raw.sum(dim=(1, 2, 3)), scores.detach(), rtol=1e-5, atol=1e-5)
