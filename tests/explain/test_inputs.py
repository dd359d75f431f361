"""Bad input gets a specific error that says what was wrong and what to do; degenerate
input gets a defined result (zeros flagged degenerate, never NaN)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

import xai_eval
from xai_eval.errors import (
    InputTypeError,
    InputValidationError,
    LayerResolutionError,
    ModelOutputError,
    XaiEvalError,
)

from .conftest import MLP, GapNet, for_every_explainer, make_explainer

_explainer = make_explainer


def test_wrong_layer_name_lists_valid_names(gap_net: nn.Module) -> None:
    with pytest.raises(LayerResolutionError) as info:
        xai_eval.get_explainer("gradcam", gap_net, target_layer="featurs")
    message = str(info.value)
    assert "no layer named 'featurs'" in message and "Did you mean features" in message
    assert "Valid names: features, features.0, features.1" in message and "fc" in message


def test_layer_of_wrong_type_or_foreign_module(gap_net: nn.Module) -> None:
    with pytest.raises(LayerResolutionError, match="module, a dotted name or None"):
        xai_eval.get_explainer("gradcam", gap_net, target_layer=3)
    with pytest.raises(LayerResolutionError, match="not part of GapNet"):
        xai_eval.get_explainer("gradcam", gap_net, target_layer=nn.Conv2d(3, 3, 1))


def test_unknown_option_lists_the_options(gap_net: nn.Module) -> None:
    with pytest.raises(InputValidationError, match=r"no option\(s\) \['counterfactul'\]"):
        xai_eval.get_explainer("gradcam", gap_net, counterfactul=True)


@for_every_explainer
@pytest.mark.parametrize(
    "make,error,pattern",
    [
        (lambda: torch.randn(3, 16, 16), InputValidationError, r"\(B, C, H, W\).*unsqueeze\(0\)"),
        (lambda: torch.randn(2, 16, 16, 3), InputValidationError, r"channels-last.*permute"),
        (lambda: torch.randn(2, 1, 16, 16), InputValidationError, r"1 channels.*\(B, 3, H, W\)"),
        (lambda: torch.randn(2, 4, 16, 16), InputValidationError, r"4 channels.*expects 3"),
        (lambda: torch.randint(0, 255, (2, 3, 16, 16), dtype=torch.uint8), InputTypeError,
         r"dtype torch.uint8.*floating-point"),
        (lambda: torch.randint(0, 255, (2, 3, 16, 16)), InputTypeError, r"torch.int64"),
        (lambda: np.zeros((2, 3, 16, 16), np.float32), InputTypeError, r"not ndarray"),
        (lambda: torch.randn(0, 3, 16, 16), InputValidationError, "empty batch"),
        (lambda: torch.full((1, 3, 16, 16), float("nan")), InputValidationError, "NaN or Inf"),
    ],
    ids=["3d", "channels_last", "one_channel", "four_channels", "uint8", "int64", "numpy",
         "empty", "nan"],
)
def test_bad_images(gap_net: nn.Module, method: str, make, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        _explainer(method, gap_net)(make(), 0)


@for_every_explainer
@pytest.mark.parametrize(
    "targets,pattern",
    [
        (5, r"class 5 is out of range: the model has 5 classes.*\[0, 4\]"),
        ([0, 1, -1, 2], r"class -1 is out of range"),
        ([[0, 9]] * 4, r"class 9 is out of range"),
        ([0, 1, 2], r"3 entries but there are 4 images"),
        (torch.zeros(4, 2, 1, dtype=torch.long), r"shape \(4, 2, 1\) do not fit 4 images"),
        (torch.zeros(5, 2, dtype=torch.long), r"shape \(5, 2\) do not fit 4 images"),
        (torch.zeros(4, 0, dtype=torch.long), r"shape \(4, 0\)"),
        (torch.tensor([0.0, 1.0, 2.0, 3.0]), r"integer class indices; got dtype torch.float32"),
        (True, "not a bool"),
    ],
    ids=["too_big", "negative", "too_big_in_k", "short", "3d", "wrong_batch", "empty_k",
         "float", "bool"],
)
def test_bad_targets(gap_net: nn.Module, images: torch.Tensor, method: str, targets,
                     pattern: str) -> None:
    with pytest.raises(InputValidationError, match=pattern):
        _explainer(method, gap_net)(images, targets)


@pytest.mark.parametrize("result,pattern", [
    (lambda out: out[:, 0].tolist(), r"returned list; it must return a tensor"),
    (lambda out: out[:2, 0], r"returned shape \(2,\); expected \(4,\) or \(4, K\)"),
    (lambda out: out[:, :, None], r"returned shape \(4, 5, 1\)"),
])
def test_bad_target_callables(gap_net: nn.Module, images: torch.Tensor, result,
                              pattern: str) -> None:
    for method in ("gradcam", "backprop"):
        with pytest.raises(InputValidationError, match=pattern):
            _explainer(method, gap_net)(images, result)


def test_mlp_gradcam_refused_backprop_works() -> None:
    model = MLP().eval()
    x = torch.randn(2, 3, 8, 8)
    with pytest.raises(LayerResolutionError, match=r"no layer with a spatial.*'backprop'"):
        xai_eval.get_explainer("gradcam", model)(x, 1)
    maps = xai_eval.get_explainer("backprop", model)(x, 1)
    assert maps.shape == (2, 8, 8) and bool((maps > 0).any())
    assert xai_eval.get_explainer("guided_backprop", model)(x, 1).shape == (2, 8, 8)


class PoisonedOutput(GapNet):
    """GapNet whose logits for image 1 are replaced by ``value`` (NaN or Inf)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        poison = torch.zeros_like(out)
        poison[1] = self.value
        return out + poison


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
@for_every_explainer
def test_non_finite_model_output_is_an_error(method: str, value: float,
                                             images: torch.Tensor) -> None:
    model = PoisonedOutput(value).eval()
    with pytest.raises(ModelOutputError, match=r"NaN or Inf for images \[1\]"):
        _explainer(method, model)(images, 2)
    with pytest.raises(ModelOutputError):
        _explainer(method, model)(images)  # arg-max of a NaN row is no way out


def dead_gap_net() -> GapNet:
    """Every activation of the target layer is exactly 0 (ReLU of a negative constant)."""
    model = GapNet().eval()
    with torch.no_grad():
        model.features[2].weight.zero_()
        model.features[2].bias.fill_(-1.0)
    return model


@for_every_explainer
def test_all_zero_map_is_zeros_flagged_degenerate(method: str, images: torch.Tensor) -> None:
    result = _explainer(method, dead_gap_net()).explain(images, [[0, 1]] * 4)
    assert bool(torch.isfinite(result.maps).all()) and bool(torch.isfinite(result.raw).all())
    assert bool((result.maps == 0).all())
    assert result.degenerate.shape == (4, 2) and bool(result.degenerate.all())


def test_constant_map_flagged_and_informative_map_not(gap_net: nn.Module,
                                                      images: torch.Tensor) -> None:
    result = _explainer("gradcam", gap_net).explain(images, [[0, 1]] * 4)
    assert not bool(result.degenerate.any())
    model = GapNet().eval()
    with torch.no_grad():  # constant positive activations: Grad-CAM is a constant map
        model.features[2].weight.zero_()
        model.features[2].bias.fill_(1.0)
        model.fc.weight.fill_(1.0)
    constant = _explainer("gradcam", model).explain(images, 0)
    assert bool(constant.degenerate.all()) and bool((constant.maps == 0).all())


def test_every_error_is_an_xai_eval_error(gap_net: nn.Module) -> None:
    """Callers can catch one base class (and the built-in one they would expect)."""
    with pytest.raises(XaiEvalError):
        _explainer("gradcam", gap_net)(torch.randn(3, 16, 16), 0)
    with pytest.raises(ValueError):
        _explainer("gradcam", gap_net)(torch.randn(1, 3, 16, 16), 99)
    with pytest.raises(TypeError):
        _explainer("gradcam", gap_net)(torch.zeros(1, 3, 16, 16, dtype=torch.uint8), 0)


@for_every_explainer
def test_inference_mode_is_refused_but_inference_tensors_work(method: str, gap_net: nn.Module,
                                                              images: torch.Tensor) -> None:
    explainer = _explainer(method, gap_net)
    with torch.inference_mode():
        if not explainer.needs_autograd:  # CAM, occlusion, centre: no autograd needed
            assert explainer(images, 1).shape == (4, 16, 16)
        else:
            with pytest.raises(InputValidationError, match=r"outside the inference_mode block"):
                explainer(images, 1)
        frozen = images.clone()
    assert frozen.is_inference()
    torch.testing.assert_close(explainer(frozen, 1), explainer(images, 1))
