"""Agreement with Captum (a test-only oracle) on randomly initialised torchvision models.

Where Captum is right — models whose ReLUs are ``nn.ReLU`` modules (ResNet reuses one
module twice per block, VGG's are in-place) — we must agree to 1e-4 relative. Where it is
known to be wrong — ReLUs called functionally (GoogLeNet's ``BasicConv2d`` and DenseNet's
head call ``F.relu``; captum #1082) — Captum silently leaves those ReLUs unmodified. There we
compare against Captum run on a *reference* copy of the model in which every ReLU is a
separate ``nn.ReLU`` module with the same weights, and we also show that Captum on the
original model differs (so the test would catch us making the same mistake).
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import xai_eval

captum_attr = pytest.importorskip("captum.attr")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:captum")

RTOL = 1e-4


def assert_rel_close(ours: torch.Tensor, reference: torch.Tensor) -> None:
    """Element-wise agreement within 1e-4 of the reference's scale."""
    assert ours.shape == reference.shape
    reference = reference.detach()
    scale = float(reference.abs().max())
    assert scale > 0, "a vacuous comparison: the reference is all zeros"
    torch.testing.assert_close(ours, reference, rtol=RTOL, atol=RTOL * scale)


class _SeparateReluConv(nn.Module):
    """GoogLeNet's BasicConv2d (conv -> bn -> F.relu) with the ReLU as its own module."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.conv, self.bn, self.relu = block.conv, block.bn, nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class _DenseNetWithReluModule(nn.Module):
    """DenseNet's forward with its final ``F.relu`` replaced by an ``nn.ReLU`` module."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.features, self.classifier, self.relu = model.features, model.classifier, nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.adaptive_avg_pool2d(self.relu(self.features(x)), 1)
        return self.classifier(out.flatten(1))


def with_relu_modules(name: str, model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` computing the same function with only nn.ReLU modules."""
    ref = copy.deepcopy(model)
    if name == "googlenet":
        for parent in list(ref.modules()):
            for child_name, child in list(parent.named_children()):
                if type(child).__name__ == "BasicConv2d":
                    setattr(parent, child_name, _SeparateReluConv(child))
        return ref.eval()
    if name == "densenet121":
        return _DenseNetWithReluModule(ref).eval()
    return ref


MODELS = ("resnet18", "vgg11", "googlenet", "densenet121")
#: the models whose ReLUs Captum cannot see
FUNCTIONAL_RELU = {"googlenet", "densenet121"}


@pytest.fixture(scope="module", params=MODELS)
def case(request: pytest.FixtureRequest) -> tuple[str, nn.Module, nn.Module, torch.Tensor]:
    import torchvision

    name = request.param
    torch.manual_seed(0)
    kwargs = {"init_weights": True} if name == "googlenet" else {}
    model = torchvision.models.get_model(name, weights=None, num_classes=10, **kwargs).eval()
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    return name, model, with_relu_modules(name, model), images


TARGETS = torch.tensor([1, 7])


def _captum(cls_name: str, model: nn.Module, *args: object) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Captum's in-place ReLU hook warnings
        return getattr(captum_attr, cls_name)(model, *args)


def test_reference_model_computes_the_same_function(case) -> None:
    name, model, reference, images = case
    with torch.no_grad():
        torch.testing.assert_close(model(images), reference(images))


def test_layer_gradcam(case) -> None:
    name, model, _reference, images = case
    explainer = xai_eval.get_explainer("gradcam", model)
    layer = explainer.layer.module
    expected = _captum("LayerGradCam", model, layer).attribute(
        images.clone(), target=TARGETS, relu_attributions=True)
    ours = explainer.explain(images, TARGETS)
    assert_rel_close(ours.raw[:, 0], expected)
    # Upsampling is ours alone: compared at layer resolution above, here only its definition.
    upsampled = captum_attr.LayerAttribution.interpolate(expected, (64, 64), "bilinear")
    assert_rel_close(ours.maps, upsampled)


def test_saliency_raw_gradient(case) -> None:
    name, model, _reference, images = case
    expected = _captum("Saliency", model).attribute(images.clone(), target=TARGETS, abs=False)
    assert_rel_close(xai_eval.get_explainer("backprop", model).attribute(images, TARGETS),
                     expected)


@pytest.mark.parametrize("method,captum_name", [("guided_backprop", "GuidedBackprop"),
                                                ("deconvnet", "Deconvolution")])
def test_guided_and_deconvnet(case, method: str, captum_name: str) -> None:
    name, model, reference, images = case
    ours = xai_eval.get_explainer(method, model).attribute(images, TARGETS)
    oracle = _captum(captum_name, reference).attribute(images.clone(), target=TARGETS)
    assert_rel_close(ours, oracle)
    if name in FUNCTIONAL_RELU:
        # Captum on the original model skips the F.relu calls: silently different.
        fooled = _captum(captum_name, model).attribute(images.clone(), target=TARGETS)
        scale = float(oracle.abs().max())
        assert not torch.allclose(fooled, oracle, rtol=RTOL, atol=RTOL * scale)


def test_guided_gradcam(case) -> None:
    name, model, reference, images = case
    explainer = xai_eval.get_explainer("guided_gradcam", model)
    layer_name = explainer.layer.name
    ref_layer = dict(reference.named_modules())[layer_name]
    oracle = _captum("GuidedGradCam", reference, ref_layer).attribute(
        images.clone(), target=TARGETS, interpolate_mode="bilinear")
    assert_rel_close(explainer.attribute(images, TARGETS), oracle)


def test_model_left_untouched_by_comparisons(case) -> None:
    """The shared fixture model must not carry hooks from Captum or from us."""
    from xai_eval.explain.state import count_hooks

    _name, model, reference, _images = case
    assert count_hooks(model) == 0 and count_hooks(reference) == 0
