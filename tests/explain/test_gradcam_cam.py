"""Grad-CAM and CAM against the Grad-CAM paper's closed form, and CAM's GAP-head refusal.

On a network whose target layer is globally average-pooled into one linear layer,
alpha_k^c = w_k^c / Z, so Grad-CAM = ReLU(CAM) / Z exactly (Selvaraju et al., eq. 5-6).
CAM itself is checked against the definition M_c = sum_k w_k^c A^k computed here by hand.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import xai_eval
from xai_eval.errors import UnsupportedModelError


def _layer_output(model: nn.Module, layer: nn.Module, images: torch.Tensor) -> torch.Tensor:
    store: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: store.append(out.detach().clone()))
    try:
        with torch.no_grad():
            model(images)
    finally:
        handle.remove()
    return store[0]


def test_cam_is_the_weighted_sum_of_feature_maps(gap_net: nn.Module, images: torch.Tensor) -> None:
    targets = torch.tensor([[0, 3], [1, 1], [4, 2], [2, 0]])
    cam = xai_eval.get_explainer("cam", gap_net, target_layer="features").attribute(images, targets)
    feats = _layer_output(gap_net, gap_net.features, images)  # (B, C, h, w)
    w = gap_net.fc.weight.detach()  # (classes, C)
    expected = torch.einsum("bkc,bchw->bkhw", w[targets], feats).unsqueeze(2)
    torch.testing.assert_close(cam, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("counterfactual", [False, True])
def test_gradcam_equals_relu_cam_over_z_on_gap_linear_net(
    gap_net: nn.Module, images: torch.Tensor, counterfactual: bool
) -> None:
    targets = torch.tensor([[0, 1, 2, 3, 4]] * images.shape[0])
    cam = xai_eval.get_explainer("cam", gap_net, target_layer="features").attribute(images, targets)
    gradcam = xai_eval.get_explainer(
        "gradcam", gap_net, target_layer="features", counterfactual=counterfactual
    ).attribute(images, targets)
    h, w = cam.shape[-2:]
    sign = -1.0 if counterfactual else 1.0
    expected = (sign * cam).clamp(min=0) / (h * w)
    assert gradcam.shape == cam.shape == (4, 5, 1, 8, 8)
    assert expected.abs().max() > 0  # the identity is not checked on all-zero maps
    torch.testing.assert_close(gradcam, expected, rtol=1e-5, atol=1e-7)


def test_gradcam_equals_relu_cam_over_z_on_resnet(tv_model, images: torch.Tensor) -> None:
    model = tv_model("resnet18", num_classes=10)
    x = torch.randn(2, 3, 64, 64)
    targets = torch.tensor([[0, 7], [3, 9]])
    cam = xai_eval.get_explainer("cam", model).attribute(x, targets)
    gradcam = xai_eval.get_explainer("gradcam", model).attribute(x, targets)
    z = cam.shape[-1] * cam.shape[-2]
    scale = cam.abs().max()
    torch.testing.assert_close(gradcam, cam.clamp(min=0) / z, rtol=1e-5, atol=1e-5 * scale / z)


def test_cam_maps_are_upsampled_positive_part(gap_net: nn.Module, images: torch.Tensor) -> None:
    explainer = xai_eval.get_explainer("cam", gap_net, target_layer="features")
    result = explainer.explain(images, 2)
    assert result.maps.shape == (4, 1, 16, 16)
    assert bool((result.maps >= 0).all())
    upsampled = torch.nn.functional.interpolate(
        result.raw[:, 0].clamp(min=0), size=(16, 16), mode="bilinear", align_corners=False)
    torch.testing.assert_close(result.maps, upsampled)


def test_cam_refuses_a_model_without_gap_head(tv_model) -> None:
    vgg = tv_model("vgg11", num_classes=10)
    explainer = xai_eval.get_explainer("cam", vgg)
    with pytest.raises(UnsupportedModelError, match=r"globally average-pooled.*'gradcam'"):
        explainer(torch.randn(1, 3, 32, 32))


def test_cam_refuses_a_model_without_linear_layer() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with pytest.raises(UnsupportedModelError, match="no nn.Linear"):
        xai_eval.get_explainer("cam", model, target_layer="1")(torch.randn(1, 3, 8, 8))


def test_cam_refuses_callable_targets(gap_net: nn.Module, images: torch.Tensor) -> None:
    explainer = xai_eval.get_explainer("cam", gap_net, target_layer="features")
    with pytest.raises(UnsupportedModelError, match="callable"):
        explainer(images, lambda out: out[:, 0])


def test_gradcam_by_definition_on_a_non_gap_head(tv_model) -> None:
    """VGG's FC head: alpha_k = spatial mean of dy/dA^k, computed here with plain autograd."""
    vgg = tv_model("vgg11", num_classes=10)
    x = torch.randn(2, 3, 32, 32)
    layer = vgg.features[18]  # the last conv (pre-ReLU): a layer the explainer must not alter
    store: list[torch.Tensor] = []

    def keep(_m: nn.Module, _i: object, out: torch.Tensor) -> torch.Tensor:
        store.append(out)
        return out.clone()  # the in-place ReLU that follows must not overwrite A^k

    handle = layer.register_forward_hook(keep)
    try:
        out = vgg(x)
        acts = store[0]
        (grads,) = torch.autograd.grad(out[:, 4].sum(), acts)
    finally:
        handle.remove()
    expected = (grads.mean(dim=(2, 3), keepdim=True) * acts).sum(1, keepdim=True).clamp(min=0)
    ours = xai_eval.get_explainer("gradcam", vgg, target_layer="features.18").attribute(x, 4)
    torch.testing.assert_close(ours, expected.detach(), rtol=1e-5, atol=1e-6)


def test_gradcam_under_bfloat16_autocast_is_close_to_float32(tv_model) -> None:
    model = tv_model("resnet18", num_classes=10)
    x = torch.randn(2, 3, 64, 64)
    explainer = xai_eval.get_explainer("gradcam", model)
    reference = explainer(x, torch.tensor([1, 2]))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = explainer(x, torch.tensor([1, 2]))
    assert mixed.dtype == torch.float32 and bool(torch.isfinite(mixed).all())
    error = (mixed - reference).abs().max() / reference.abs().max()
    assert error < 0.05
