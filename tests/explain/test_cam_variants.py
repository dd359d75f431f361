"""The gradient-weighted CAM variants and Eigen-CAM against pytorch-grad-cam and torchcam.

Oracle set-up: a float64 network whose head is *not* GAP -> linear (a 1x1 conv, ReLU and a
linear layer on the flattened maps), so gradients vary over space and every variant's
weighting matters. pytorch-grad-cam returns each map min-max normalised and resized to
the input; it is asked for the layer's own size (no resize), and ours is min-max
normalised the same way. Tolerance 1e-5 on [0, 1] maps: pytorch-grad-cam rounds its result
to float32 (relative 6e-8) and normalises twice by ``max + 1e-7`` (relative ~1e-7).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

import xai_eval

pgc = pytest.importorskip("pytorch_grad_cam")
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402


class SpatialHeadNet(nn.Module):
    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(6, 8, 3, padding=1, stride=2), nn.ReLU())
        self.head = nn.Sequential(nn.Conv2d(8, 4, 1), nn.ReLU(), nn.Flatten(),
                                  nn.Linear(4 * 6 * 6, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@pytest.fixture
def net() -> nn.Module:
    torch.manual_seed(0)
    return SpatialHeadNet().double().eval()


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(3, 3, 12, 12, generator=torch.Generator().manual_seed(2)).double()


def minmax(maps: torch.Tensor, eps: float = 0.0) -> np.ndarray:
    """Per-map (x - min) / (max - min + eps); torchcam normalises once with eps 1e-8."""
    maps = maps.double()
    flat = maps.flatten(-2)
    low = flat.amin(-1)[..., None, None]
    high = (maps - low).flatten(-2).amax(-1)[..., None, None]
    return ((maps - low) / (high + eps)).numpy()


def pgc_maps(cls_name: str, model: nn.Module, x: torch.Tensor, classes: list[int]) -> np.ndarray:
    cam = getattr(pgc, cls_name)(model=model, target_layers=[model.features])
    cam.get_target_width_height = lambda _t: None  # the layer's own size: no resize
    return cam(input_tensor=x, targets=[ClassifierOutputTarget(c) for c in classes])


PGC = {"gradcam_pp": ("GradCAMPlusPlus", {"eps": 1e-6}), "xgradcam": ("XGradCAM", {"eps": 1e-7}),
       "layercam": ("LayerCAM", {}), "hirescam": ("HiResCAM", {}), "gradcam": ("GradCAM", {})}


@pytest.mark.parametrize("method", sorted(PGC))
def test_agrees_with_pytorch_grad_cam(method: str, net: nn.Module, x: torch.Tensor) -> None:
    cls_name, options = PGC[method]
    targets = torch.tensor([[0, 3], [1, 4], [2, 2]])
    ours = xai_eval.get_explainer(method, net, target_layer="features", **options).attribute(x, targets)
    assert ours.shape == (3, 2, 1, 6, 6)
    for k in range(2):
        reference = pgc_maps(cls_name, net, x, targets[:, k].tolist())
        np.testing.assert_allclose(minmax(ours[:, k, 0]), reference, atol=1e-5)


def test_eigencam_is_pytorch_grad_cams_projection_up_to_sign(net: nn.Module, x: torch.Tensor) -> None:
    from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection

    explainer = xai_eval.get_explainer("eigencam", net, target_layer="features")
    ours = explainer.attribute(x, [[0, 4]] * 3)
    torch.testing.assert_close(ours[:, 0], ours[:, 1])  # class-agnostic
    with torch.no_grad():
        acts = net.features(x).numpy()
    projection = get_2d_projection(acts)  # (B, h, w), arbitrary sign per image
    for b in range(3):
        candidates = [np.maximum(s * projection[b], 0) for s in (1, -1)]
        errors = [np.abs(ours[b, 0, 0].numpy() - c).max() for c in candidates]
        assert min(errors) < 1e-5 * max(1.0, float(np.abs(projection[b]).max()))
    # our sign: positively correlated with the (centred) channel-summed activation
    from xai_eval_cam.eigencam import first_component_projection

    with torch.no_grad():
        acts_t = net.features(x)
    proj = first_component_projection(acts_t)
    energy = acts_t.sum(1)
    centred = energy - energy.mean(dim=(1, 2), keepdim=True)
    assert bool(((proj * centred).sum(dim=(1, 2)) >= 0).all())
    torch.testing.assert_close(ours[:, 0, 0], proj.clamp(min=0))


def test_xgradcam_agrees_with_torchcam(net: nn.Module, x: torch.Tensor) -> None:
    torchcam = pytest.importorskip("torchcam.methods")
    with torchcam.XGradCAM(net, target_layer="features") as extractor:
        out = net(x)
        reference = extractor([1, 4, 0], out)[0]  # (B, h, w), ReLU'd and min-max normalised
    ours = xai_eval.get_explainer("xgradcam", net, target_layer="features", eps=1e-8).attribute(
        x, torch.tensor([1, 4, 0]))
    torch.testing.assert_close(torch.from_numpy(minmax(ours[:, 0], 1e-8)), reference.double(),
                               atol=1e-5, rtol=0)


def test_torchcam_gradcampp_departs_from_the_paper(net: nn.Module, x: torch.Tensor) -> None:
    """torchcam 0.5.0's alpha is g^2 (its in-place division acts on a copy), not eq. 19's."""
    torchcam = pytest.importorskip("torchcam.methods")
    with torchcam.GradCAMpp(net, target_layer="features") as extractor:
        out = net(x)
        reference = extractor([1, 4, 0], out)[0]
    acts = net.features(x).detach().requires_grad_(True)
    scores = net.head(acts)[torch.arange(3), torch.tensor([1, 4, 0])]
    (g,) = torch.autograd.grad(scores.sum(), acts)
    departed = ((g.pow(2) * g.clamp(min=0)).sum(dim=(2, 3), keepdim=True) * acts).sum(1)
    torch.testing.assert_close(torch.from_numpy(minmax(departed.detach().clamp(min=0), 1e-8)),
                               reference.double(), atol=1e-5, rtol=0)
    paper = xai_eval.get_explainer("gradcam_pp", net, target_layer="features").attribute(
        x, torch.tensor([1, 4, 0]))
    assert np.abs(minmax(paper[:, 0]) - reference.double().numpy()).max() > 1e-3


def test_hirescam_sums_to_the_layer_part_of_a_linear_score() -> None:
    """Score linear in A (flatten -> linear): sum_ij HiResCAM before ReLU = y - bias."""
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 8 * 8, 3)).double()
    x = torch.randn(2, 3, 8, 8).double()
    explainer = xai_eval.get_explainer("hirescam", net, target_layer="0")
    with torch.no_grad():
        logits = net(x)
        acts = net[0](x)
    weights = net[2].weight.view(3, 4, 8, 8)
    signed = (weights[[2, 0]] * acts).sum(1)  # what HiResCAM computes, before its ReLU
    torch.testing.assert_close(signed.sum(dim=(1, 2)), logits[[0, 1], [2, 0]] - net[2].bias[[2, 0]])
    ours = explainer.attribute(x, torch.tensor([2, 0]))[:, 0]
    torch.testing.assert_close(ours, signed.clamp(min=0))


@pytest.mark.parametrize("method", ["gradcam_pp", "xgradcam"])
def test_bad_eps_is_refused(method: str, net: nn.Module) -> None:
    from xai_eval.errors import InputValidationError

    for bad in (-1.0, "small", True, float("inf")):
        with pytest.raises(InputValidationError, match="eps must be a non-negative number"):
            xai_eval.get_explainer(method, net, target_layer="features", eps=bad)
