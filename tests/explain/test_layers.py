"""Target-layer resolution: the automatic choice per torchvision family, token grids of
ViT/Swin recovered without a hand-written reshape, and clear errors when they cannot be."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import xai_eval
from xai_eval.errors import LayerResolutionError

FAMILIES = [
    # (model, build kwargs, input side, expected layer)
    ("alexnet", {}, 128, "features.11"),
    ("vgg11", {}, 32, "features.19"),
    ("googlenet", {"init_weights": True}, 64, "inception5b"),
    ("resnet18", {}, 64, "layer4"),
    ("densenet121", {}, 64, "features"),
    ("mobilenet_v2", {}, 64, "features"),
    ("mobilenet_v3_small", {}, 64, "features"),
    ("efficientnet_b0", {}, 64, "features"),
    ("convnext_tiny", {}, 64, "features"),
]


def _captured_output(model: nn.Module, name: str, x: torch.Tensor) -> torch.Tensor:
    store: list[torch.Tensor] = []
    module = dict(model.named_modules())[name]
    handle = module.register_forward_hook(lambda _m, _i, out: store.append(out.detach().clone()))
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return store[0]


@pytest.mark.parametrize("name,kwargs,side,expected", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_automatic_layer_for_cnn_families(tv_model, name: str, kwargs: dict, side: int,
                                          expected: str) -> None:
    model = tv_model(name, num_classes=10, **kwargs)
    x = torch.randn(2, 3, side, side)
    explainer = xai_eval.get_explainer("gradcam", model)
    assert explainer.layer.name == expected
    result = explainer.explain(x, [3, 4])
    feats = _captured_output(model, expected, x)
    assert result.raw.shape == (2, 1, 1, *feats.shape[-2:])
    assert result.maps.shape == (2, 1, side, side)
    assert bool(torch.isfinite(result.maps).all()) and bool((result.maps >= 0).all())
    # VGG/AlexNet: the last conv block's *rectified* output, as in the Grad-CAM paper.
    if name in ("alexnet", "vgg11"):
        assert isinstance(explainer.layer.module, nn.ReLU)


@pytest.fixture
def small_vit() -> nn.Module:
    from torchvision.models import VisionTransformer

    torch.manual_seed(0)
    vit = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                            hidden_dim=32, mlp_dim=64, num_classes=10).eval()
    nn.init.normal_(vit.heads.head.weight)  # torchvision zero-initialises the head
    return vit


@pytest.fixture
def small_swin() -> nn.Module:
    from torchvision.models.swin_transformer import SwinTransformer

    torch.manual_seed(0)
    return SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[1, 1], num_heads=[1, 1],
                           window_size=[2, 2], num_classes=10).eval()


def _gradcam_by_definition(model: nn.Module, name: str, x: torch.Tensor, cls: int,
                           to_grid) -> torch.Tensor:
    """Grad-CAM with plain autograd; ``to_grid`` maps the raw layer output to (B, C, h, w)."""
    store: list[torch.Tensor] = []
    module = dict(model.named_modules())[name]
    handle = module.register_forward_hook(lambda _m, _i, out: store.append(out))
    try:
        out = model(x)
        (grad,) = torch.autograd.grad(out[:, cls].sum(), store[0])
    finally:
        handle.remove()
    acts, grads = to_grid(store[0].detach()), to_grid(grad)
    return (grads.mean(dim=(2, 3), keepdim=True) * acts).sum(1, keepdim=True).clamp(min=0)


def test_vit_token_grid_recovered_with_class_token_dropped(small_vit: nn.Module) -> None:
    x = torch.randn(2, 3, 32, 32)
    explainer = xai_eval.get_explainer("gradcam", small_vit)
    assert explainer.layer.name == "encoder.layers.encoder_layer_1.ln_1"

    def patches_to_grid(tokens: torch.Tensor) -> torch.Tensor:  # (B, 1 + 16, D) -> (B, D, 4, 4)
        patches = tokens[:, 1:]
        return patches.reshape(tokens.shape[0], 4, 4, tokens.shape[2]).permute(0, 3, 1, 2)

    expected = _gradcam_by_definition(small_vit, explainer.layer.name, x, 6, patches_to_grid)
    assert expected.abs().max() > 0
    ours = explainer.explain(x, 6)
    torch.testing.assert_close(ours.raw[:, 0], expected, rtol=1e-5, atol=1e-6)
    assert ours.maps.shape == (2, 1, 32, 32) and not bool(ours.degenerate.any())


def test_vit_last_block_output_would_be_blind(small_vit: nn.Module) -> None:
    """Why the default is ln_1: the last block's patch tokens never reach the class token."""
    result = xai_eval.get_explainer(
        "gradcam", small_vit, target_layer="encoder.layers.encoder_layer_1").explain(
        torch.randn(1, 3, 32, 32), 6)
    assert bool(result.degenerate.all()) and bool((result.maps == 0).all())


def test_swin_channels_last_grid(small_swin: nn.Module) -> None:
    x = torch.randn(2, 3, 32, 32)
    explainer = xai_eval.get_explainer("gradcam", small_swin)
    assert explainer.layer.name == "features"
    expected = _gradcam_by_definition(small_swin, "features", x, 2,
                                      lambda t: t.permute(0, 3, 1, 2))
    assert expected.shape == (2, 1, 4, 4) and expected.abs().max() > 0
    torch.testing.assert_close(explainer.attribute(x, 2), expected, rtol=1e-5, atol=1e-6)


class OddTokens(nn.Module):
    """A token model with 2x3 patches + a class token: T = 7 fits no square grid."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, 8, 4, stride=4)
        self.cls = nn.Parameter(torch.randn(1, 1, 8))
        self.blocks = nn.Sequential(nn.Linear(8, 8), nn.GELU())
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x).flatten(2).transpose(1, 2)  # (B, 6, 8)
        tokens = torch.cat([self.cls.expand(x.shape[0], -1, -1), tokens], dim=1)
        return self.head(self.blocks(tokens)[:, 0])


def test_token_count_without_grid_says_use_reshape() -> None:
    model = OddTokens().eval()
    x = torch.randn(2, 3, 8, 12)
    explainer = xai_eval.get_explainer("gradcam", model, target_layer="blocks")
    with pytest.raises(LayerResolutionError, match=r"T=7 is not a square.*reshape="):
        explainer(x, 0)

    def reshape(tokens: torch.Tensor) -> torch.Tensor:
        return tokens[:, 1:].reshape(tokens.shape[0], 2, 3, -1).permute(0, 3, 1, 2)

    fixed = xai_eval.get_explainer("gradcam", model, target_layer="blocks", reshape=reshape)
    assert fixed.attribute(x, 0).shape == (2, 1, 2, 3)
    assert fixed(x, 0).shape == (2, 8, 12)


class Custom(nn.Module):
    """Not a torchvision family: the layer is found by probing one forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
        self.body = nn.Sequential(nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.stem(x)))


def test_probe_picks_last_spatial_block_of_unknown_model() -> None:
    model = Custom().eval()
    explainer = xai_eval.get_explainer("gradcam", model)
    assert explainer.layer is None  # resolved on the first call
    assert explainer.attribute(torch.randn(1, 3, 16, 16), 1).shape == (1, 1, 8, 8)
    assert explainer.layer.name == "body"
    by_module = xai_eval.get_explainer("gradcam", model, target_layer=model.body)
    assert by_module.layer.name == "body"


def test_reused_or_unused_target_layer_is_refused() -> None:
    class Reuse(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)
            self.unused = nn.Conv2d(3, 3, 1)
            self.fc = nn.Linear(3, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.conv(self.conv(x)).mean((2, 3)))

    model = Reuse().eval()
    with pytest.raises(LayerResolutionError, match="ran more than once"):
        xai_eval.get_explainer("gradcam", model, target_layer="conv")(torch.randn(1, 3, 8, 8), 0)
    with pytest.raises(LayerResolutionError, match="did not run"):
        xai_eval.get_explainer("gradcam", model, target_layer="unused")(torch.randn(1, 3, 8, 8), 0)
