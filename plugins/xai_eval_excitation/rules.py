"""Excitation Backprop's backward rules, applied to every call the forward pass makes.

Zhang et al. (ECCV 2016, https://arxiv.org/abs/1608.00507) replace the backward pass of each
linear layer ``y = W a + b`` (non-negative input ``a``) by the *marginal winning
probability* (MWP) rule::

    P(a_j) = a_j * sum_i W+_ij * P(y_i) / Z_i,     Z_i = sum_j W+_ij a_j,   W+ = max(W, 0)

(bias ignored). It is computed as TorchRay does — ``a * vjp(f(., W+), P / f(a, W+))`` — with
our own code. Which calls get which rule (the forward values are never changed):

- ``conv1d/2d/3d``, ``linear``: the rule above with ``W+``;
- average pools, adaptive average pools, ``mean`` and ``sum``: the same rule, their weights
  being positive already;
- ``a + b`` of two tensors (residual connections): the rule for a sum with unit weights,
  ``P(a) = a / (a + b) * P``; adding a Python number is a bias, so ``P`` passes unchanged;
- ``batch_norm``: passes ``P`` unchanged, as TorchRay does. For an eval-mode BatchNorm with
  a positive scale this *is* the MWP rule (``y = s x + t``: ``x s P / (s x) = P``; the shift
  is a bias); with a negative scale the paper's rule would pass nothing, TorchRay and we
  pass ``P``;
- ReLU (any form), ReLU6/``hardtanh(x, 0, m)``, max pools, dropout and pure reshaping or
  indexing (``flatten``, ``view``, ``cat``, ``chunk``, ...): their ordinary backward, which
  passes ``P`` through (max pool: to the arg-max, as the paper says).

Any *other* operation that the probabilities would have to flow through (GELU, sigmoid,
multiplication, LayerNorm, attention, ...) has no MWP rule; the forward pass stops with an
:class:`~xai_eval.errors.UnsupportedModelError` naming it, instead of silently mixing in a
plain gradient. Only calls on tensors that depend on the explained layer are checked:
everything before that layer runs without autograd and is irrelevant to the map.

A unit with ``Z_i = 0`` passes no probability (TorchRay divides by ``Z + 1e-20``, the same
for non-negative inputs since every term of ``Z`` is then zero).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from xai_eval.errors import UnsupportedModelError

_WEIGHTED = {"conv1d", "conv2d", "conv3d", "linear"}
_POSITIVE_LINEAR = {
    "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "mean", "sum",
}
_ADD = {"add", "add_", "__add__", "__radd__", "__iadd__"}
_INPLACE_ADD = {"add_", "__iadd__"}
#: calls whose ordinary backward already passes the winning probability on unchanged
_PASS_THROUGH = {
    "relu", "relu_", "relu6", "hardtanh", "hardtanh_", "threshold", "threshold_",
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
    "max_pool2d_with_indices", "max_pool3d_with_indices", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "adaptive_max_pool3d", "dropout", "dropout1d", "dropout2d",
    "dropout3d", "flatten", "view", "reshape", "view_as", "reshape_as", "permute",
    "transpose", "t", "contiguous", "squeeze", "unsqueeze", "cat", "concat", "concatenate",
    "stack", "chunk", "split", "unbind", "narrow", "__getitem__", "clone", "to", "float",
    "double", "half", "bfloat16", "type", "type_as", "detach", "requires_grad_",
    "identity",
}


class _PositiveLinear(torch.autograd.Function):
    """Forward: the layer as it is. Backward: ``a * vjp(f+, P / f+(a))``."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, layer: Callable[[torch.Tensor], torch.Tensor],  # type: ignore[override]
                positive: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        ctx.save_for_backward(a)
        ctx.positive = positive
        return layer(a)

    @staticmethod
    def backward(ctx: Any, p_out: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        (a,) = ctx.saved_tensors
        with torch.enable_grad():
            a_ = a.detach().requires_grad_(True)
            z = ctx.positive(a_)
            nonzero = z != 0
            p_hat = torch.where(nonzero, p_out / torch.where(nonzero, z, torch.ones_like(z)),
                                torch.zeros_like(z))
            (back,) = torch.autograd.grad(z, a_, p_hat)
        return a * back, None, None


class _EltwiseSum(torch.autograd.Function):
    """Forward: ``a + b``. Backward: each summand gets its share ``x / (a + b)`` of ``P``."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out = a + b
        # Clones: an in-place add overwrites ``a`` right after this call.
        ctx.save_for_backward(a.detach().clone(), b.detach().clone(), out.detach().clone())
        return out

    @staticmethod
    def backward(ctx: Any, p_out: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:  # type: ignore[override]
        a, b, out = ctx.saved_tensors
        nonzero = out != 0
        p_hat = torch.where(nonzero, p_out / torch.where(nonzero, out, torch.ones_like(out)),
                            torch.zeros_like(out))
        grads = []
        for summand, needed in ((a, ctx.needs_input_grad[0]), (b, ctx.needs_input_grad[1])):
            if not needed:
                grads.append(None)
                continue
            share = summand * p_hat
            grads.append(_unbroadcast(share, summand.shape))
        return grads[0], grads[1]


class _PassProbability(torch.autograd.Function):
    """Forward: the layer as it is (BatchNorm). Backward: ``P`` unchanged (TorchRay's rule)."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, layer: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        return layer(a)

    @staticmethod
    def backward(ctx: Any, p_out: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return p_out, None


def _unbroadcast(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum a broadcast gradient back to ``shape``."""
    while grad.dim() > len(shape):
        grad = grad.sum(0)
    for dim, size in enumerate(shape):
        if size == 1 and grad.shape[dim] != 1:
            grad = grad.sum(dim, keepdim=True)
    return grad


def _carries_grad(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.requires_grad
    if isinstance(value, (tuple, list)):
        return any(_carries_grad(v) for v in value)
    return False


class ExcitationMode(TorchFunctionMode):
    """Within this mode, calls on tensors that carry autograd history use the MWP rules.

    ``dual_weight`` names the classifier's weight tensor: while :attr:`sign` is ``-1`` the
    backward pass of that one layer uses ``(-W)+`` — the "dual" unit of contrastive MWP —
    without touching the parameter. The sign is read when the backward pass runs, so one
    forward pass serves both the class unit and its dual.
    """

    def __init__(self, method: str, layer: str | None,
                 dual_weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.method = method
        self.layer = layer
        self.dual_weight = dual_weight
        self.sign = 1.0
        self.dual_calls = 0

    def __torch_function__(self, func: Any, types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if args and isinstance(args[0], torch.Tensor) and args[0].requires_grad:
            if name in _WEIGHTED:
                return self._weighted(func, args, kwargs)
            if name in _POSITIVE_LINEAR:
                layer = _bind(func, args[1:], kwargs)
                return _PositiveLinear.apply(args[0], layer, layer)
            if name == "batch_norm":
                return _PassProbability.apply(args[0], _bind(func, args[1:], kwargs))
        if name in _ADD:
            return self._add(func, name, args, kwargs)
        if name == "__setitem__" and any(_carries_grad(a) for a in args):
            self._refuse(name)
        out = func(*args, **kwargs)
        if name in _PASS_THROUGH or not _carries_grad(out):
            return out
        self._refuse(name)

    def _weighted(self, func: Any, args: tuple, kwargs: dict) -> torch.Tensor:
        a = args[0]
        weight = args[1] if len(args) > 1 else kwargs["weight"]
        rest = args[3:]
        extra = {k: v for k, v in kwargs.items() if k not in ("weight", "bias")}
        is_dual = self.dual_weight is not None and weight is self.dual_weight
        if is_dual:
            self.dual_calls += 1
        fixed = weight.detach()

        def layer(x: torch.Tensor) -> torch.Tensor:
            return func(x, *args[1:], **kwargs)

        def positive(x: torch.Tensor) -> torch.Tensor:
            w = fixed * self.sign if is_dual else fixed
            return func(x, w.clamp(min=0), None, *rest, **extra)

        return _PositiveLinear.apply(a, layer, positive)

    def _add(self, func: Any, name: str, args: tuple, kwargs: dict) -> Any:
        lhs, rhs = args[0], args[1] if len(args) > 1 else kwargs.get("other")
        if not (_carries_grad(lhs) or _carries_grad(rhs)):
            return func(*args, **kwargs)
        if kwargs.get("alpha", 1) != 1:
            self._refuse(f"{name} with alpha")
        if not isinstance(lhs, torch.Tensor) or not isinstance(rhs, torch.Tensor):
            return func(*args, **kwargs)  # a constant is a bias: P passes unchanged
        # A summand without history comes from below the explained layer (a skip
        # connection around it): it still takes its share, which leaves the map.
        out = _EltwiseSum.apply(lhs, rhs)
        if name in _INPLACE_ADD:
            lhs.copy_(out)  # keep in-place semantics; autograd routes P through the copy
            return lhs
        return out

    def _refuse(self, name: str) -> None:
        where = f"above target layer {self.layer!r}" if self.layer else "in the model"
        raise UnsupportedModelError(
            f"{self.method}: the model calls {name!r} {where}, and Excitation Backprop "
            "(Zhang et al. 2016) has no winning-probability rule for it — it is defined for "
            "conv/linear layers, average and max pooling, ReLU, BatchNorm and additive skip "
            "connections. Choose a target_layer after that operation, or use 'gradcam'"
        )


def _bind(func: Any, rest: tuple, kwargs: dict) -> Callable[[torch.Tensor], torch.Tensor]:
    def call(x: torch.Tensor) -> torch.Tensor:
        return func(x, *rest, **kwargs)

    return call
