"""Leave the model exactly as we found it, also when a call raises.

Peers leak hooks (pytorch-grad-cam #88, #132), leave submodules in the wrong train/eval mode
(torch-cam PR #390) or flip ``requires_grad`` flags. :class:`ModelStateGuard` snapshots
everything an explainer could touch and restores it in ``finally``, never swallowing the
exception.
"""

from __future__ import annotations

from types import TracebackType

import torch.nn as nn

_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_pre_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_state_dict_hooks",
)


def count_hooks(model: nn.Module) -> int:
    """Total number of module hooks registered anywhere in ``model`` (a test helper)."""
    total = 0
    for module in model.modules():
        for attr in _HOOK_DICTS[:4]:
            total += len(getattr(module, attr, {}))
    return total


class ModelStateGuard:
    """Context manager: optional ``eval()`` on entry, full state restore on exit.

    Restored: every module's ``training`` flag, every parameter's ``requires_grad`` and
    ``.grad`` object, and every module hook dict (hooks added inside are removed).
    """

    def __init__(self, model: nn.Module, eval_mode: bool = True) -> None:
        self.model = model
        self.eval_mode = eval_mode

    def __enter__(self) -> ModelStateGuard:
        modules = list(self.model.modules())
        self._training = [(m, m.training) for m in modules]
        self._hooks = [
            (m, attr, set(getattr(m, attr).keys()))
            for m in modules
            for attr in _HOOK_DICTS
            if isinstance(getattr(m, attr, None), dict)
        ]
        self._params = [(p, p.requires_grad, p.grad) for p in self.model.parameters()]
        if self.eval_mode:
            self.model.eval()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for module, attr, keys in self._hooks:
            hooks = getattr(module, attr)
            for key in [k for k in hooks if k not in keys]:
                del hooks[key]
        for module, training in self._training:
            module.training = training
        for param, requires_grad, grad in self._params:
            if param.requires_grad != requires_grad:
                param.requires_grad_(requires_grad)
            if param.grad is not grad:
                param.grad = grad
        # Drop references so a guard kept by mistake cannot keep the model alive.
        self._hooks = self._training = self._params = []  # type: ignore[assignment]
