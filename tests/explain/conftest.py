"""Tiny models for the explainer tests: hand-made toy nets and small torchvision builds.

Every model is randomly initialised (seeded by the root conftest) and small enough that a
forward and backward pass takes milliseconds on one CPU thread.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import xai_eval

#: how the toy ReLU net applies its three ReLUs (see :class:`ReluStyleNet`)
RELU_STYLES = ("modules", "inplace_modules", "reused_module", "functional",
               "functional_inplace", "torch_relu_", "tensor_relu")


class GapNet(nn.Module):
    """conv -> ReLU -> conv -> ReLU ("features") -> global average pool -> linear: CAM's shape."""

    def __init__(self, channels: int = 6, classes: int = 5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
            nn.Conv2d(4, channels, 3, padding=1, stride=2), nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


class ReluStyleNet(nn.Module):
    """Three conv layers whose ReLUs are applied in one of :data:`RELU_STYLES`.

    All styles compute the same function with the same weights, so a guided/deconvnet
    result must not depend on the style: peers hook ``nn.ReLU`` modules and miss the
    functional calls, or mishandle the in-place and reused ones.
    """

    def __init__(self, style: str = "modules") -> None:
        super().__init__()
        self.style = style
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 5, 3, padding=1, stride=2)
        self.conv3 = nn.Conv2d(5, 6, 3, padding=1)
        self.fc = nn.Linear(6, 7)
        if style == "modules":
            self.relus = nn.ModuleList([nn.ReLU() for _ in range(3)])
        elif style == "inplace_modules":
            self.relus = nn.ModuleList([nn.ReLU(inplace=True) for _ in range(3)])
        elif style == "reused_module":
            shared = nn.ReLU(inplace=True)
            self.relu = shared
        elif style not in RELU_STYLES:
            raise ValueError(style)

    def _relu(self, index: int, x: torch.Tensor) -> torch.Tensor:
        if self.style in ("modules", "inplace_modules"):
            return self.relus[index](x)
        if self.style == "reused_module":
            return self.relu(x)
        if self.style == "functional":
            return F.relu(x)
        if self.style == "functional_inplace":
            return F.relu(x, inplace=True)
        if self.style == "torch_relu_":
            return torch.relu_(x)
        return x.relu()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._relu(0, self.conv1(x))
        x = self._relu(1, self.conv2(x))
        x = self._relu(2, self.conv3(x))
        return self.fc(x.mean(dim=(2, 3)))


def relu_style_net(style: str, seed: int = 0) -> ReluStyleNet:
    """A :class:`ReluStyleNet` whose weights depend only on ``seed``, not on ``style``."""
    torch.manual_seed(seed)
    return ReluStyleNet(style).eval()


def reference_relu_rule(net: ReluStyleNet, x: torch.Tensor, cls: torch.Tensor, rule: str
                        ) -> torch.Tensor:
    """Hand-written backward pass of :class:`ReluStyleNet` with an explicit ReLU rule.

    Autograd is used only for the linear pieces (convs, mean, linear); every ReLU is crossed
    by hand: ``plain`` multiplies by the forward mask (the true gradient), ``guided`` also
    keeps only positive gradients, ``deconvnet`` keeps positive gradients and ignores the mask.
    """
    x = x.detach().requires_grad_(True)
    z1 = net.conv1(x)
    a1 = z1.clamp(min=0).detach().requires_grad_(True)
    z2 = net.conv2(a1)
    a2 = z2.clamp(min=0).detach().requires_grad_(True)
    z3 = net.conv3(a2)
    a3 = z3.clamp(min=0).detach().requires_grad_(True)
    y = net.fc(a3.mean(dim=(2, 3)))

    def cross(grad: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if rule == "plain":
            return grad * (z > 0)
        if rule == "guided":
            return grad.clamp(min=0) * (z > 0)
        if rule == "deconvnet":
            return grad.clamp(min=0)
        raise ValueError(rule)

    (g,) = torch.autograd.grad(y.gather(1, cls[:, None]).sum(), a3)
    (g,) = torch.autograd.grad(z3, a2, cross(g, z3))
    (g,) = torch.autograd.grad(z2, a1, cross(g, z2))
    (g,) = torch.autograd.grad(z1, x, cross(g, z1))
    return g


class MLP(nn.Module):
    """No convolution at all: CAM-family methods have nothing to explain."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU(),
                                 nn.Linear(16, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@pytest.fixture
def gap_net() -> GapNet:
    return GapNet().eval()


@pytest.fixture
def images() -> torch.Tensor:
    """Four seeded 3x16x16 images."""
    return torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def tv_model() -> Callable[..., nn.Module]:
    """Build a randomly initialised torchvision model in eval mode by name."""
    import torchvision

    def build(name: str, **kwargs: object) -> nn.Module:
        torch.manual_seed(0)
        return torchvision.models.get_model(name, weights=None, **kwargs).eval()

    return build


# --- the generic guarantees, checked for every registered explainer -----------------------

#: every explainer registered in this environment, read once at collection time: the
#: built-in ones and any third-party plugin installed in the venv (the example plugin's
#: ``example_input_x_gradient``), which must keep the same guarantees
ALL_EXPLAINERS: tuple[str, ...] = tuple(sorted(xai_eval.available_explainers()))

#: options that keep each method cheap at any image size (occlusion: half-side patches at a
#: stride of one patch, so 4 windows)
FAST_OPTIONS: dict[str, dict[str, object]] = {"occlusion": {"patch_size": 0.5, "stride": 1.0},
                                              "rise": {"n_masks": 8, "grid": 2},
                                              "integrated_gradients": {"steps": 4},
                                              "smoothgrad": {"n_samples": 4},
                                              "smoothgrad_sq": {"n_samples": 4},
                                              "vargrad": {"n_samples": 4}}

#: Explicit, reasoned exceptions to the generic tests: (test function, method) -> why the
#: guarantee does not apply. ``generic_methods`` turns each into a visible skip, and
#: test_all_explainers.py fails when one names a method that is not registered.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("test_state_restored_after_exception_in_targets_callable", "cam"):
        "CAM refuses a targets callable before calling it (it needs a class unit's weights)",
    ("test_state_restored_after_exception_in_targets_callable", "c_mwp"):
        "c-MWP refuses a targets callable before calling it (it negates a class unit's weights)",
    ("test_all_zero_map_is_zeros_flagged_degenerate", "center"):
        "the centre baseline's map never depends on the model, so a dead layer cannot zero it",
    ("test_all_zero_map_is_zeros_flagged_degenerate", "rise"):
        "RISE of a model that ignores its input is its constant score times the sampled masks' "
        "mean (paper eq. 6 has no baseline), noisy for finite N, never exactly zero",
    ("test_state_restored_after_exception_in_targets_callable", "rise"):
        "RISE's default score='prob' refuses a targets callable before calling it (the "
        "softmax needs class logits)",
}


def generic_methods(test_name: str) -> list[object]:
    """ALL_EXPLAINERS as pytest params, the EXCEPTIONS for ``test_name`` marked as skips."""
    return [
        pytest.param(m, marks=pytest.mark.skip(reason=f"{m}: {EXCEPTIONS[(test_name, m)]}"))
        if (test_name, m) in EXCEPTIONS else m
        for m in ALL_EXPLAINERS
    ]


def for_every_explainer(test: Callable[..., None]) -> Callable[..., None]:
    """Parametrise ``test`` over ``method`` in ALL_EXPLAINERS, with its EXCEPTIONS skipped."""
    return pytest.mark.parametrize("method", generic_methods(test.__name__))(test)


def make_explainer(method: str, model: nn.Module, **options: object):
    """``method`` on a GapNet-like model: target layer ``features`` and the fast options.

    Layer methods get ``features`` explicitly (with None the automatic layer probe would run
    an extra forward pass, which the poisoned and raising test models trip over); methods
    without a target layer accept and ignore it.
    """
    return xai_eval.get_explainer(method, model, target_layer="features",
                                  **{**FAST_OPTIONS.get(method, {}), **options})
