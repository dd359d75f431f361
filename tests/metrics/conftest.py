"""Tiny models with closed-form behaviour for the faithfulness and sanity tests."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

#: weights of the toy linear model on a 1-channel 2x2 image (raster order)
LINEAR_WEIGHTS = (4.0, 3.0, 2.0, 1.0)


def linear_model() -> nn.Module:
    """logits = [w . x, 0] for a (1, 2, 2) image: every curve point is closed-form."""
    fc = nn.Linear(4, 2, bias=False)
    with torch.no_grad():
        fc.weight.zero_()
        fc.weight[0] = torch.tensor(LINEAR_WEIGHTS)
    return nn.Sequential(nn.Flatten(), fc)


@pytest.fixture
def toy_linear() -> nn.Module:
    return linear_model()


class TinyCNN(nn.Module):
    """conv -> relu -> conv -> relu -> GAP -> linear: three randomizable layers, CAM-ready."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu2(self.conv2(self.relu1(self.conv1(x))))
        return self.fc(self.pool(x).flatten(1))


@pytest.fixture
def tiny_cnn() -> nn.Module:
    torch.manual_seed(0)
    return TinyCNN().eval()
