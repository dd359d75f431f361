"""Automatic layers survive a reused last module (issue 12, item 3).

EfficientNet-Lite0 from its PyPI package (and EfficientNet-PyTorch) applies one ``_swish``
module after the stem and after the head, so the last module with a spatial output runs
more than once per forward pass. The automatic choice takes its last call: the tensor that
feeds the global pooling. Oracles: the same weights in our wrapper, which marks that tensor
with a ``head_features`` module; Grad-CAM by its definition on a captured tensor; and a
flat "shared activation" twin of torchvision's MobileNetV2 against the torchvision model
with ``target_layer="features"``. No weights are needed (random initialisation).
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
import torchvision

import xai_eval
from xai_eval.errors import LayerResolutionError
from xai_eval.explain.layers import probe_last_spatial_layer


def _lite0_pair() -> tuple[nn.Module, nn.Module]:
    pytest.importorskip("efficientnet_lite_pytorch")
    from efficientnet_lite_pytorch import EfficientNet

    from xai_eval.models.real import build_efficientnet_lite0

    torch.manual_seed(0)
    raw = EfficientNet.from_name("efficientnet-lite0").eval()
    wrapped = build_efficientnet_lite0().eval()
    wrapped.load_state_dict(raw.state_dict())
    return raw, wrapped


@pytest.mark.parametrize("method", ["cam", "gradcam"])
def test_raw_efficientnet_lite0_package_model(method: str) -> None:
    raw, wrapped = _lite0_pair()
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    explainer = xai_eval.get_explainer(method, raw)  # target_layer=None
    ours = explainer.attribute(images, [[1, 7]] * 2)
    assert explainer.layer.name == "_swish" and explainer.layer.call is not None
    reference = xai_eval.get_explainer(method, wrapped, target_layer="head_features").attribute(
        images, [[1, 7]] * 2)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)
    assert float(ours.abs().amax()) > 0


def test_raw_lite0_gradcam_by_definition() -> None:
    raw, _ = _lite0_pair()
    images = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    seen: list[torch.Tensor] = []
    handle = raw._swish.register_forward_hook(lambda _m, _i, out: seen.append(out))
    try:
        out = raw(images)
    finally:
        handle.remove()
    head = seen[-1]  # the last call: what the pooling receives
    (grad,) = torch.autograd.grad(out[0, 5], head)
    expected = (grad.mean(dim=(2, 3), keepdim=True) * head).sum(1).clamp(min=0)
    ours = xai_eval.get_explainer("gradcam", raw).attribute(images, 5)
    torch.testing.assert_close(ours[:, 0], expected.detach(), rtol=1e-4, atol=1e-6)


class SharedActMobileNetV2(nn.Module):
    """torchvision's MobileNetV2, written flat with one ReLU6 module reused everywhere.

    The EfficientNet-PyTorch style: stem and head activations are the same module, called
    from ``forward``, so no container's output marks the last feature maps.
    """

    def __init__(self, tv: nn.Module) -> None:
        super().__init__()
        self.act = nn.ReLU6()
        for block in tv.features.modules():
            for name, child in block.named_children():
                if isinstance(child, nn.ReLU6):
                    setattr(block, name, self.act)
        stem, head = tv.features[0], tv.features[-1]
        self.conv_stem, self.bn0 = stem[0], stem[1]
        self.blocks = tv.features[1:-1]
        self.conv_head, self.bn1 = head[0], head[1]
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = tv.classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn0(self.conv_stem(x)))
        x = self.act(self.bn1(self.conv_head(self.blocks(x))))
        return self.classifier(self.pool(x).flatten(1))


@pytest.mark.parametrize("method", ["cam", "gradcam"])
def test_shared_activation_twin_of_torchvision_mobilenet(method: str) -> None:
    torch.manual_seed(0)
    tv = torchvision.models.mobilenet_v2(weights=None, num_classes=6).eval()
    twin = SharedActMobileNetV2(copy.deepcopy(tv)).eval()  # the same weights, rewired
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(twin(images), tv(images), rtol=1e-5, atol=1e-6)  # a true twin
    explainer = xai_eval.get_explainer(method, twin)
    ours = explainer.attribute(images, [[0, 4]] * 2)
    assert explainer.layer.name == "act"
    reference = xai_eval.get_explainer(method, tv, target_layer="features").attribute(
        images, [[0, 4]] * 2)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)


def test_probe_records_the_last_call_and_a_named_reused_layer_still_refuses() -> None:
    class Reuse(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)
            self.act = nn.ReLU()
            self.fc = nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.act(self.conv(self.act(x))).mean((2, 3)))

    model = Reuse().eval()
    images = torch.randn(1, 3, 8, 8)
    layer = probe_last_spatial_layer(model, images)
    assert (layer.name, layer.call) == ("act", 1)
    explainer = xai_eval.get_explainer("gradcam", model)
    with torch.no_grad():
        feats = model.act(model.conv(model.act(images)))
    ours = explainer.attribute(images, 1)
    # d logit_1 / dA = w_1 / (h w) everywhere, so Grad-CAM = ReLU(sum_k w_1k A^k) / (h w)
    expected = (torch.einsum("c,bchw->bhw", model.fc.weight[1], feats) / 64).clamp(min=0)
    torch.testing.assert_close(ours[:, 0], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(LayerResolutionError, match="ran more than once"):
        xai_eval.get_explainer("gradcam", model, target_layer="act")(images, 0)


@pytest.mark.parametrize("arch", ["efficientnet_b0", "resnet18", "mobilenetv3_small_100"])
def test_timm_models_automatic_layer_is_the_pooled_features(arch: str) -> None:
    """timm (if installed; no weights): the automatic layer's maps are ``forward_features``."""
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = timm.create_model(arch, pretrained=False, num_classes=4).eval()
    images = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        feats = model.forward_features(images)
    explainer = xai_eval.get_explainer("gradcam", model)
    ours = explainer.attribute(images, 2)
    with torch.enable_grad():
        leaf = feats.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(model.forward_head(leaf)[0, 2], leaf)
    expected = (grad.mean(dim=(2, 3), keepdim=True) * leaf.detach()).sum(1).clamp(min=0)
    torch.testing.assert_close(ours[:, 0], expected, rtol=1e-4, atol=1e-6)
