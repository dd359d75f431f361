"""Built-in plugin: input-gradient explainers.

Backprop, deconvnet and guided backprop live here; Integrated Gradients, the SmoothGrad
family (smoothgrad, smoothgrad_sq, vargrad) and Input x Gradient have a module each.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from xai_eval import hookimpl
from xai_eval.explain.base import InputGradientExplainer
from xai_eval.explain.relu_rules import ReluRuleMode
from xai_eval_gradients.input_x_gradient import InputXGradient
from xai_eval_gradients.integrated_gradients import IntegratedGradients
from xai_eval_gradients.smoothgrad import SmoothGrad, SmoothGradSquared, VarGrad

__all__ = ["Backprop", "Deconvnet", "GuidedBackprop", "InputXGradient", "IntegratedGradients",
           "SmoothGrad", "SmoothGradSquared", "VarGrad"]


class Backprop(InputGradientExplainer):
    """Vanilla gradients dy^c/dx (Simonyan et al. 2014), max |grad| over colour channels.

    Paper: https://arxiv.org/abs/1312.6034 — the "Backprop" row of the Grad-CAM paper's
    localization table. ``attribute`` returns the signed (B, 3, H, W) gradient.
    """

    name: ClassVar[str] = "backprop"
    paper: ClassVar[str] = "Simonyan et al. 2014, arXiv:1312.6034"
    oracle: ClassVar[str] = "Captum Saliency"
    options: ClassVar[dict[str, Any]] = {}


class _ReluRuleExplainer(InputGradientExplainer):
    rule: ClassVar[str] = ""

    @contextmanager
    def _relu_context(self) -> Iterator[None]:
        mode = ReluRuleMode(self.rule)
        with mode:
            yield
        mode.check(self.name)


class GuidedBackprop(_ReluRuleExplainer):
    """Guided backpropagation (Springenberg et al. 2015): ReLUs pass positive gradients of positive inputs.

    Paper: https://arxiv.org/abs/1412.6806. Every ReLU call is rewritten (modules, in-place,
    reused and functional ones alike; see :mod:`xai_eval.explain.relu_rules`).
    """

    name: ClassVar[str] = "guided_backprop"
    paper: ClassVar[str] = "Springenberg et al. 2015, arXiv:1412.6806"
    oracle: ClassVar[str] = "Captum GuidedBackprop"
    options: ClassVar[dict[str, Any]] = {}
    rule: ClassVar[str] = "guided"


class Deconvnet(_ReluRuleExplainer):
    """Deconvnet (Zeiler & Fergus 2014): ReLUs pass ReLU(grad_out), ignoring the forward mask.

    Paper: https://arxiv.org/abs/1311.2901.
    """

    name: ClassVar[str] = "deconvnet"
    paper: ClassVar[str] = "Zeiler & Fergus 2014, arXiv:1311.2901"
    oracle: ClassVar[str] = "Captum Deconvolution"
    options: ClassVar[dict[str, Any]] = {}
    rule: ClassVar[str] = "deconvnet"


@hookimpl
def xai_eval_register_explainers() -> list[type]:
    return [Backprop, GuidedBackprop, Deconvnet, IntegratedGradients, SmoothGrad,
            SmoothGradSquared, VarGrad, InputXGradient]
