"""Integrated Gradients, the SmoothGrad family and Input x Gradient against Captum and closed forms.

Captum is the oracle where it computes the same thing deterministically (Integrated
Gradients with every quadrature rule, Input x Gradient); the SmoothGrad family draws its
own noise, so it is checked against a per-sample loop on the same noise and against
closed forms on a quadratic model (gradient A x + b: every statistic is exact given the
noise). Float64 models; tolerances are float64 rounding of sums of up to 50 terms.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from captum.attr import InputXGradient as CaptumInputXGradient
from captum.attr import IntegratedGradients as CaptumIG
from captum.attr import NoiseTunnel, Saliency

import xai_eval
from xai_eval.errors import InputValidationError


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Softplus(), nn.Conv2d(4, 4, 3),
                         nn.Tanh(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5)).double().eval()


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(7)).double()


TARGETS = torch.tensor([[1, 4], [0, 0]])


@pytest.mark.parametrize("rule", ["riemann_right", "riemann_left", "riemann_middle",
                                  "gausslegendre"])
def test_integrated_gradients_equals_captum(rule: str, x: torch.Tensor) -> None:
    net = small_net()
    ours = xai_eval.get_explainer("integrated_gradients", net, steps=16, rule=rule, baseline=0.3,
                                  batch_size=5).attribute(x, TARGETS)
    for k in range(2):
        reference = CaptumIG(net).attribute(x, baselines=0.3, target=TARGETS[:, k], n_steps=16,
                                            method=rule)
        torch.testing.assert_close(ours[:, k], reference, rtol=1e-9, atol=1e-12)


def test_captums_trapezoid_weights_sum_to_one_minus_one_over_n(x: torch.Tensor) -> None:
    """Captum 0.9's riemann_trapezoid uses steps of 1/n with halved ends (sum (n-1)/n), ours
    the trapezoid rule's 1/(n-1): its attributions are ours times (n-1)/n (documented).
    Tolerance 1e-6: Captum rounds its alphas (linspace) to float32."""
    net = small_net()
    ours = xai_eval.get_explainer("integrated_gradients", net, steps=16, rule="riemann_trapezoid"
                                  ).attribute(x, TARGETS)
    for k in range(2):
        reference = CaptumIG(net).attribute(x, baselines=0.0, target=TARGETS[:, k], n_steps=16,
                                            method="riemann_trapezoid")
        torch.testing.assert_close(ours[:, k] * 15 / 16, reference, rtol=1e-6, atol=1e-9)


def test_integrated_gradients_completeness(x: torch.Tensor) -> None:
    net = small_net()
    raw = xai_eval.get_explainer("integrated_gradients", net, steps=64, rule="gausslegendre"
                                 ).attribute(x, TARGETS)
    with torch.no_grad():
        gap = net(x).gather(1, TARGETS) - net(torch.zeros_like(x)).gather(1, TARGETS)
    torch.testing.assert_close(raw.sum(dim=(2, 3, 4)), gap, rtol=1e-6, atol=1e-8)


def test_input_x_gradient_equals_captum(x: torch.Tensor) -> None:
    net = small_net()
    ours = xai_eval.get_explainer("input_x_gradient", net).attribute(x, TARGETS)
    for k in range(2):
        reference = CaptumInputXGradient(net).attribute(x, target=TARGETS[:, k])
        torch.testing.assert_close(ours[:, k], reference, rtol=1e-9, atol=1e-12)


class Quadratic(nn.Module):
    """y_c = 0.5 x^T A_c x + b_c^T x over the flattened image: dy_c/dx = A_c x + b_c."""

    def __init__(self, dim: int, classes: int = 3) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        a = torch.randn(classes, dim, dim, generator=gen, dtype=torch.float64) / dim
        self.a = nn.Parameter(a + a.transpose(1, 2))
        self.b = nn.Parameter(torch.randn(classes, dim, generator=gen, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        return 0.5 * torch.einsum("bi,cij,bj->bc", flat, self.a, flat) + flat @ self.b.T


@pytest.mark.parametrize("method", ["smoothgrad", "smoothgrad_sq", "vargrad"])
def test_smoothgrad_family_closed_form_on_the_same_noise(method: str) -> None:
    x = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(1)).double()
    model = Quadratic(48).eval()
    explainer = xai_eval.get_explainer(method, model, n_samples=9, noise_level=0.2, seed=3,
                                       batch_size=4)
    noise = explainer.noise(x)  # (n, B, C, H, W)
    assert noise.shape == (9, 2, 3, 4, 4)
    span = (x.flatten(1).amax(1) - x.flatten(1).amin(1))
    assert torch.allclose(noise.flatten(2).std(dim=(0, 2)) / span, torch.full((2,), 0.2,
                          dtype=torch.float64), rtol=0.2)
    ours = explainer.attribute(x, torch.tensor([[0, 2], [1, 1]]))
    with torch.no_grad():
        for b, classes in enumerate(([0, 2], [1, 1])):
            for k, c in enumerate(classes):
                noisy = (x[b] + noise[:, b]).flatten(1)  # (n, D)
                grads = noisy @ model.a[c].T + model.b[c]  # exact gradients, (n, D)
                stat = {"smoothgrad": grads.mean(0), "smoothgrad_sq": (grads ** 2).mean(0),
                        "vargrad": grads.var(0, unbiased=False)}[method]
                torch.testing.assert_close(ours[b, k].flatten(), stat, rtol=1e-8, atol=1e-10)
    again = xai_eval.get_explainer(method, model, n_samples=9, noise_level=0.2, seed=3)
    torch.testing.assert_close(again.attribute(x, torch.tensor([[0, 2], [1, 1]])), ours)
    other = xai_eval.get_explainer(method, model, n_samples=9, noise_level=0.2, seed=4)
    assert not torch.allclose(other.attribute(x, torch.tensor([[0, 2], [1, 1]])), ours)


@pytest.mark.parametrize(("method", "nt_type"), [("smoothgrad", "smoothgrad"),
                                                  ("smoothgrad_sq", "smoothgrad_sq"),
                                                  ("vargrad", "vargrad")])
def test_smoothgrad_family_matches_captums_noise_tunnel_definitions(method: str, nt_type: str
                                                                    ) -> None:
    """Same statistic as Captum's NoiseTunnel: with zero noise both reduce to exact values."""
    net = small_net()
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(2)).double()
    ours = xai_eval.get_explainer(method, net, n_samples=3, noise_level=0.0).attribute(x, 2)
    reference = NoiseTunnel(Saliency(net)).attribute(x, nt_type=nt_type, nt_samples=3,
                                                     stdevs=0.0, target=2, abs=False)
    torch.testing.assert_close(ours, reference, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("method", "options", "match"), [
    ("integrated_gradients", {"steps": 0}, "steps must be an int >= 1"),
    ("integrated_gradients", {"rule": "simpson"}, "rule must be one of"),
    ("integrated_gradients", {"baseline": float("nan")}, "baseline must be a finite number"),
    ("smoothgrad", {"noise_level": -0.1}, "noise_level must be a non-negative number"),
    ("vargrad", {"n_samples": 2.5}, "n_samples must be an int"),
    ("smoothgrad_sq", {"seed": None}, "seed must be an int"),
])
def test_bad_options_are_refused(method: str, options: dict, match: str) -> None:
    with pytest.raises(InputValidationError, match=match):
        xai_eval.get_explainer(method, small_net(), **options)
