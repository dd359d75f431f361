"""Gradient methods against a hand-written backward pass, whatever way the ReLUs are called.

The oracle (:func:`reference_relu_rule`) crosses every ReLU by hand, so it does not share
the mechanism under test. The same weights are run with separate ``nn.ReLU`` modules,
in-place modules, one module reused three times, ``F.relu``, ``F.relu(inplace=True)``,
``torch.relu_`` and ``Tensor.relu``: peers get some of these silently wrong
(captum #1082, pytorch-grad-cam #147); here every style must give the oracle's answer.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import xai_eval
from xai_eval.errors import UnsupportedModelError

from .conftest import RELU_STYLES, reference_relu_rule, relu_style_net

METHOD_RULE = {"backprop": "plain", "guided_backprop": "guided", "deconvnet": "deconvnet"}


@pytest.mark.parametrize("style", RELU_STYLES)
@pytest.mark.parametrize("method", sorted(METHOD_RULE))
def test_gradient_methods_match_hand_written_backward(style: str, method: str) -> None:
    net = relu_style_net(style)
    reference_net = relu_style_net("modules")
    x = torch.randn(3, 3, 12, 12)
    cls = torch.tensor([0, 4, 6])
    expected = reference_relu_rule(reference_net, x, cls, METHOD_RULE[method])
    ours = xai_eval.get_explainer(method, net).attribute(x, cls)
    assert ours.shape == (3, 3, 12, 12)
    assert expected.abs().max() > 0
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-7)


def test_the_rules_really_differ() -> None:
    """Guard against a vacuous oracle: the three rules give three different answers here."""
    net = relu_style_net("modules")
    x = torch.randn(2, 3, 12, 12)
    cls = torch.tensor([1, 2])
    plain, guided, deconv = (reference_relu_rule(net, x, cls, r)
                             for r in ("plain", "guided", "deconvnet"))
    assert not torch.allclose(plain, guided)
    assert not torch.allclose(guided, deconv)
    assert not torch.allclose(plain, deconv)


def test_backprop_of_a_linear_model_is_its_weight_row() -> None:
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)).eval()
    x = torch.randn(2, 3, 4, 4)
    conv_w = model[0].weight.detach()[:, :, 0, 0]  # (2, 3)
    lin_w = model[2].weight.detach().reshape(3, 2, 4, 4)
    expected = torch.einsum("oc,kohw->kchw", conv_w, lin_w)  # d y_k / d x, same for any x
    ours = xai_eval.get_explainer("backprop", model).attribute(x, torch.tensor([[0, 2]] * 2))
    torch.testing.assert_close(ours[0, 0], expected[0])
    torch.testing.assert_close(ours[1, 1], expected[2])
    maps = xai_eval.get_explainer("backprop", model)(x, 2)
    torch.testing.assert_close(maps[0], expected[2].abs().amax(dim=0))  # Simonyan: max_c |grad|


def test_relu6_is_rectified_with_both_bounds() -> None:
    """ReLU6 (MobileNetV2) goes through F.hardtanh(0, 6): the guided mask is 0 < z < 6."""
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    with torch.no_grad():
        conv.weight.mul_(20)  # push some activations past 6
    model = nn.Sequential(conv, nn.ReLU6(inplace=True), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    model.eval()
    x = torch.randn(1, 3, 6, 6)
    z = conv(x)
    assert bool((z > 6).any()) and bool((z < 0).any())
    xr = x.clone().requires_grad_(True)
    zr = conv(xr)
    (g_a,) = torch.autograd.grad(model[3](zr.clamp(0, 6).flatten(1))[:, 1].sum(), zr)
    mask = (z > 0) & (z < 6)
    (expected,) = torch.autograd.grad(zr, xr, g_a.clamp(min=0) * mask)
    ours = xai_eval.get_explainer("guided_backprop", model).attribute(x, 1)
    torch.testing.assert_close(ours, expected)


def test_guided_refuses_a_model_without_relu() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.GELU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    with pytest.raises(UnsupportedModelError, match=r"no ReLU ran.*gelu.*'backprop'"):
        xai_eval.get_explainer("guided_backprop", model)(torch.randn(1, 3, 6, 6))


def test_guided_warns_about_nonlinearities_it_cannot_rectify() -> None:
    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.fc = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(F.silu(F.relu(self.conv(x))).mean((2, 3)))

    with pytest.warns(UserWarning, match="silu x1"):
        xai_eval.get_explainer("deconvnet", Mixed().eval())(torch.randn(1, 3, 6, 6))


def test_torchvision_functional_relus_are_all_rewritten(tv_model) -> None:
    """GoogLeNet calls F.relu inside BasicConv2d: every call must be caught, none skipped."""
    from xai_eval.explain.relu_rules import ReluRuleMode

    model = tv_model("googlenet", num_classes=10, init_weights=True)
    calls: list[int] = []

    def count(_m: nn.Module, _i: object, _o: object) -> None:
        calls.append(1)

    handles = [m.register_forward_hook(count) for m in model.modules()
               if type(m).__name__ == "BasicConv2d"]
    mode = ReluRuleMode("guided")
    try:
        with torch.no_grad(), mode:
            model(torch.randn(1, 3, 32, 32))
    finally:
        for handle in handles:
            handle.remove()
    assert mode.rewritten == len(calls) > 50


def test_gradient_methods_under_bfloat16_autocast(tv_model) -> None:
    model = tv_model("resnet18", num_classes=10)
    x = torch.randn(2, 3, 32, 32)
    for method in ("backprop", "guided_backprop"):
        explainer = xai_eval.get_explainer(method, model)
        reference = explainer(x, torch.tensor([3, 5]))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = explainer(x, torch.tensor([3, 5]))
        assert mixed.dtype == torch.float32 and bool(torch.isfinite(mixed).all())
        # bf16 keeps ~3 significant digits and pixel gradients pass through every layer,
        # so compare the maps' direction (measured: 0.97 backprop, 0.998 guided).
        cosine = F.cosine_similarity(mixed.flatten(), reference.flatten(), dim=0)
        assert cosine > 0.95
