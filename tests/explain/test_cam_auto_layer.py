"""CAM with an automatically probed target layer on a network outside the family table.

Regression: the probe forward pass ran while CAM's classifier hook was attached, so CAM saw
two classifier calls and refused every unknown GAP network unless a layer was named.
"""

from __future__ import annotations

import torch
import torch.nn as nn

import xai_eval


class ToyGapNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(6, 8, 3, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.body(x)).flatten(1))


def test_cam_probes_the_layer_and_matches_the_explicit_choice() -> None:
    model = ToyGapNet().eval()
    images = torch.randn(2, 3, 12, 12)
    automatic = xai_eval.get_explainer("cam", model)
    raw = automatic.attribute(images, [1, 3])
    assert automatic.layer is not None and automatic.layer.name == "body"
    explicit = xai_eval.get_explainer("cam", model, target_layer="body").attribute(images, [1, 3])
    torch.testing.assert_close(raw, explicit, rtol=0, atol=0)
    # Hand oracle: CAM = sum_k w_k^c A^k with A the body's output.
    with torch.no_grad():
        maps = model.body(images)
    expected = torch.einsum("bc,bchw->bhw", model.head.weight[[1, 3]], maps)
    torch.testing.assert_close(raw[:, 0], expected, rtol=1e-5, atol=1e-6)
