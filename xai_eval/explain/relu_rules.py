"""Modified ReLU backward rules (guided backprop, deconvnet) that no ReLU can escape.

Peers hook ``nn.ReLU`` modules, so a ReLU called functionally (torchvision's DenseNet and
GoogLeNet call ``F.relu``), an in-place one, or one module reused for several calls is
silently handled wrongly (captum #1082, pytorch-grad-cam #147). Here every ReLU call made
during the forward pass — ``nn.ReLU``/``nn.ReLU6`` modules, ``F.relu``/``F.relu6``,
``torch.relu``/``relu_``, ``Tensor.relu``/``relu_`` and ``F.hardtanh(x, 0, max)`` — is
intercepted with a :class:`~torch.overrides.TorchFunctionMode` and replaced by an autograd
function whose forward is the same clamp and whose backward applies the rule:

- ``guided`` (Springenberg et al. 2015): pass ``grad_out`` only where the forward input was
  in the linear range *and* ``grad_out > 0``;
- ``deconvnet`` (Zeiler & Fergus 2014): pass ``ReLU(grad_out)``, ignoring the forward input.

Other nonlinearities (GELU, SiLU, Hardswish, ...) have no such rule; they keep their plain
gradient and the explainer warns, naming them, instead of skipping them silently.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from xai_eval.errors import UnsupportedModelError

RULES = ("guided", "deconvnet")

_RELU_FUNCS = {F.relu, torch.relu, torch.Tensor.relu}
_RELU_INPLACE_FUNCS = {torch.relu_, torch.Tensor.relu_}
_OTHER_NONLINEAR = {
    F.gelu: "gelu", F.silu: "silu", F.hardswish: "hardswish", F.elu: "elu",
    F.leaky_relu: "leaky_relu", F.mish: "mish", F.selu: "selu", torch.sigmoid: "sigmoid",
    torch.tanh: "tanh", F.softplus: "softplus", torch.nn.functional.prelu: "prelu",
}


class _RectifiedClamp(torch.autograd.Function):
    """clamp(x, 0, upper) forward (in place when the caller asked for it); the rule's backward.

    The forward output is what is saved: its positive (and, for ReLU6, below-``upper``)
    entries are exactly where the input was in the linear range, so no extra mask is
    allocated, and the backward is one clamp plus one fused masking kernel — close to the
    cost of the plain ReLU backward it replaces.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, upper: float | None, rule: str,  # type: ignore[override]
                inplace: bool) -> torch.Tensor:
        if inplace:
            ctx.mark_dirty(x)
            y = x.clamp_(min=0) if upper is None else x.clamp_(0, upper)
        else:
            y = x.clamp(min=0) if upper is None else x.clamp(0, upper)
        if rule == "guided":
            ctx.save_for_backward(y)
        ctx.rule = rule
        ctx.upper = upper
        return y

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        positive = grad_out.clamp(min=0)
        if ctx.rule == "guided":
            (y,) = ctx.saved_tensors
            if ctx.upper is None:
                positive = torch.ops.aten.threshold_backward(positive, y, 0)
            else:
                positive = torch.ops.aten.hardtanh_backward(positive, y, 0.0, ctx.upper)
        return positive, None, None, None


class ReluRuleMode(TorchFunctionMode):
    """Within this mode, every ReLU-family call uses ``rule`` in the backward pass.

    ``counts`` records how many ReLU calls were rewritten and which other nonlinearities
    ran, so the explainer can refuse a model with no ReLU at all and warn about the rest.
    """

    def __init__(self, rule: str) -> None:
        super().__init__()
        if rule not in RULES:
            raise ValueError(f"unknown ReLU rule {rule!r}; choose one of {RULES}")
        self.rule = rule
        self.rewritten = 0
        self.others: Counter[str] = Counter()

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        upper: float | None
        if func in _RELU_FUNCS or func is F.relu6:
            inplace = bool(kwargs.get("inplace", args[1] if len(args) > 1 else False))
            upper = 6.0 if func is F.relu6 else None
            return self._apply(args[0], upper, inplace)
        if func in _RELU_INPLACE_FUNCS:
            return self._apply(args[0], None, True)
        if func is F.hardtanh:
            lo = kwargs.get("min_val", args[1] if len(args) > 1 else -1.0)
            hi = kwargs.get("max_val", args[2] if len(args) > 2 else 1.0)
            inplace = bool(kwargs.get("inplace", args[3] if len(args) > 3 else False))
            if lo == 0.0:
                return self._apply(args[0], float(hi), inplace)
        name = _OTHER_NONLINEAR.get(func)
        if name is not None:
            self.others[name] += 1
        return func(*args, **kwargs)

    def _apply(self, x: torch.Tensor, upper: float | None, inplace: bool) -> torch.Tensor:
        self.rewritten += 1
        # In-place calls stay in place (code may ignore the return value); the autograd
        # function marks the input dirty so autograd routes the gradient through the rule.
        return _RectifiedClamp.apply(x, upper, self.rule, inplace)

    def check(self, method: str) -> None:
        """Refuse a model with no ReLU; warn about nonlinearities the rule cannot cover."""
        if self.rewritten == 0:
            raise UnsupportedModelError(
                f"{method} modifies the backward pass of ReLUs, but no ReLU ran in this model's "
                f"forward pass{' (it uses ' + ', '.join(sorted(self.others)) + ')' if self.others else ''}; "
                "its result would equal plain gradients. Use 'backprop' or a CAM-family method"
            )
        if self.others:
            listed = ", ".join(f"{name} x{n}" for name, n in sorted(self.others.items()))
            warnings.warn(
                f"{method}: {self.rewritten} ReLU calls use the {self.rule} rule, but the model "
                f"also runs {listed}, which keep their plain gradients (the rule is defined "
                "for ReLUs only)",
                UserWarning,
                stacklevel=4,
            )
