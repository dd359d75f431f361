"""Find the layer a CAM-family method explains, and turn its output into a (B, C, h, w) grid.

Users may name a layer (``"layer4"``), pass the module, or pass nothing: then a table of
torchvision families gives the layer the papers use (the last convolutional block, or the
last encoder block of a ViT/Swin), and any other network gets the last module with a
spatial output, found by probing one forward pass. Token outputs ``(B, T, D)`` are mapped to
a square grid automatically (class/distillation tokens dropped); when no square grid fits,
the error says so and how to pass ``reshape`` instead of failing deep inside numpy.
"""

from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn

from xai_eval.errors import LayerResolutionError

logger = logging.getLogger(__name__)

#: A reshape function maps the target layer's raw output to (B, C, h, w).
Reshape = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ResolvedLayer:
    """The chosen module, its dotted name, and how its output is laid out.

    ``call`` picks one call of a module that runs more than once per forward pass (0 is the
    first); ``None`` means the module must run exactly once.
    """

    name: str
    module: nn.Module
    layout: str  # "nchw", "nhwc" or "tokens"
    call: int | None = None


def _last_relu_in(seq: nn.Module, prefix: str) -> str:
    names = [n for n, m in seq.named_children() if isinstance(m, nn.ReLU)]
    return f"{prefix}.{names[-1]}" if names else prefix


def _vit_last_block(model: nn.Module) -> str:
    """The first LayerNorm of the last encoder block: its patch tokens still reach the output.

    The *output* of the last block cannot be used: torchvision's ViT classifies from the
    class token alone, so the last block's patch tokens never influence the score, their
    gradients are exactly zero and Grad-CAM would be all zeros. The input of the last
    attention (``ln_1``) is where the patch tokens last feed the class token.
    """
    layers = model.encoder.layers  # type: ignore[union-attr]
    return f"encoder.layers.{list(dict(layers.named_children()))[-1]}.ln_1"


def _family_default(model: nn.Module) -> tuple[str, str] | None:
    """(layer name, layout) the papers' practice suggests for known torchvision families."""
    from torchvision import models as tvm

    table: list[tuple[type, Callable[[nn.Module], str], str]] = [
        # Grad-CAM paper: the last conv layer's rectified output (relu5_3 of VGG, 14x14).
        (tvm.AlexNet, lambda m: _last_relu_in(m.features, "features"), "nchw"),
        (tvm.VGG, lambda m: _last_relu_in(m.features, "features"), "nchw"),
        (tvm.ResNet, lambda m: "layer4", "nchw"),
        (tvm.GoogLeNet, lambda m: "inception5b", "nchw"),
        (tvm.Inception3, lambda m: "Mixed_7c", "nchw"),
        (tvm.DenseNet, lambda m: "features", "nchw"),
        (tvm.MobileNetV2, lambda m: "features", "nchw"),
        (tvm.MobileNetV3, lambda m: "features", "nchw"),
        (tvm.EfficientNet, lambda m: "features", "nchw"),
        (tvm.ConvNeXt, lambda m: "features", "nchw"),
        (tvm.RegNet, lambda m: "trunk_output", "nchw"),
        (tvm.ShuffleNetV2, lambda m: "conv5", "nchw"),
        (tvm.SqueezeNet, lambda m: "features", "nchw"),
        (tvm.VisionTransformer, _vit_last_block, "tokens"),
        (tvm.SwinTransformer, lambda m: "features", "nhwc"),
    ]
    for cls, pick, layout in table:
        if isinstance(model, cls):
            return pick(model), layout
    return None


def module_by_name(model: nn.Module, name: str) -> nn.Module:
    """The submodule at dotted ``name``; a wrong name lists the close and the valid names."""
    modules = dict(model.named_modules())
    if name in modules and name != "":
        return modules[name]
    valid = [n for n in modules if n]
    close = difflib.get_close_matches(name, valid, n=5)
    shown = ", ".join(valid[:40]) + (f", ... ({len(valid)} in all)" if len(valid) > 40 else "")
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise LayerResolutionError(
        f"model {type(model).__name__} has no layer named {name!r}.{hint} Valid names: {shown}"
    )


def _name_of(model: nn.Module, module: nn.Module) -> str:
    for name, candidate in model.named_modules():
        if candidate is module:
            return name or "<model>"
    raise LayerResolutionError(
        f"the module passed as target_layer ({type(module).__name__}) is not part of "
        f"{type(model).__name__}; pass one of its submodules or a dotted name"
    )


def probe_last_spatial_layer(model: nn.Module, images: torch.Tensor) -> ResolvedLayer:
    """Run one forward pass and return the last module with a spatial or token output.

    Among modules that produced the same final tensor (a block and its last child), the
    outermost one is chosen so the name is the one users recognise. When that module runs
    more than once (EfficientNet-PyTorch and EfficientNet-Lite apply one ``_swish`` module
    after the stem and after the head), its last call is the one whose output feeds the
    global pooling, so that call is chosen (``ResolvedLayer.call``).
    """
    order: list[tuple[str, nn.Module, torch.Tensor]] = []
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue

        def record(mod: nn.Module, _inp: object, out: object, _name: str = name) -> None:
            if isinstance(out, torch.Tensor):
                order.append((_name, mod, out))

        handles.append(module.register_forward_hook(record))
    try:
        with torch.no_grad():
            model(images[:1])
    finally:
        for handle in handles:
            handle.remove()
    candidates = [
        (name, mod, out, "nchw")
        for name, mod, out in order
        if out.dim() == 4 and out.shape[-1] > 1 and out.shape[-2] > 1
    ]
    if not candidates:
        candidates = [
            (name, mod, out, "tokens")
            for name, mod, out in order
            if out.dim() == 3 and _token_grid(out.shape[1]) is not None
        ]
    if not candidates:
        raise LayerResolutionError(
            f"{type(model).__name__} has no layer with a spatial (B, C, h, w) or token "
            "(B, T, D) output, so a CAM-family method has nothing to explain; pass "
            "target_layer= explicitly or use a gradient method such as 'backprop'"
        )
    name, mod, out, layout = candidates[-1]
    for other_name, other_mod, other_out, _ in candidates:
        if other_out is out and len(other_name) < len(name):
            name, mod = other_name, other_mod
    calls = [index for index, (_n, other, _o) in enumerate(order) if other is mod]
    position = next(i for i, (_n, other, o) in enumerate(order) if other is mod and o is out)
    call = calls.index(position) if len(calls) > 1 else None
    logger.info("target layer chosen automatically: %s (%s%s)", name, layout,
                "" if call is None else f", call {call + 1} of {len(calls)}")
    return ResolvedLayer(name, mod, layout, call)


def resolve_layer(model: nn.Module, target_layer: str | nn.Module | None) -> ResolvedLayer | None:
    """Resolve a user's choice; ``None`` means 'needs a probe forward' for unknown families."""
    if isinstance(target_layer, nn.Module):
        name = _name_of(model, target_layer)
        return ResolvedLayer(name, target_layer, _default_layout(model, name))
    if isinstance(target_layer, str):
        return ResolvedLayer(target_layer, module_by_name(model, target_layer),
                             _default_layout(model, target_layer))
    if target_layer is not None:
        raise LayerResolutionError(
            f"target_layer must be a module, a dotted name or None, not {type(target_layer).__name__}"
        )
    default = _family_default(model)
    if default is None:
        return None
    name, layout = default
    logger.info("target layer for %s: %s", type(model).__name__, name)
    return ResolvedLayer(name, module_by_name(model, name), layout)


def _default_layout(model: nn.Module, name: str) -> str:
    default = _family_default(model)
    if default is not None and default[1] != "nchw" and name.startswith(default[0].split(".")[0]):
        return default[1]
    return "nchw"


def _token_grid(num_tokens: int) -> tuple[int, int] | None:
    """(extra tokens to drop, grid side) for a token count, preferring a class token."""
    for extra in (1, 0, 2):
        side = math.isqrt(max(num_tokens - extra, 0))
        if side > 1 and side * side == num_tokens - extra:
            return extra, side
    return None


def to_grid(output: torch.Tensor, layout: str, reshape: Reshape | None = None) -> torch.Tensor:
    """Map the target layer's output to (B, C, h, w), differentiably."""
    if reshape is not None:
        grid = reshape(output)
        if grid.dim() != 4:
            raise LayerResolutionError(
                f"the reshape function returned shape {tuple(grid.shape)}; it must return (B, C, h, w)"
            )
        return grid
    if layout == "nhwc" and output.dim() == 4:
        return output.permute(0, 3, 1, 2)
    if output.dim() == 4:
        return output
    if output.dim() == 3:
        found = _token_grid(output.shape[1])
        if found is None:
            raise LayerResolutionError(
                f"cannot infer a square token grid from the target layer's output of shape "
                f"{tuple(output.shape)} (B, T, D): T={output.shape[1]} is not a square, a square "
                "plus one class token, or plus two (class + distillation) tokens. Pass "
                "reshape=lambda t: ... returning (B, C, h, w)"
            )
        extra, side = found
        tokens = output[:, extra:, :]
        return tokens.transpose(1, 2).reshape(output.shape[0], output.shape[2], side, side)
    raise LayerResolutionError(
        f"the target layer's output has shape {tuple(output.shape)}; CAM-family methods need "
        "(B, C, h, w) feature maps or (B, T, D) tokens. Choose another target_layer"
    )
