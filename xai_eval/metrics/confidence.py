"""Average drop and increase in confidence (Chattopadhay et al., Grad-CAM++, WACV 2018).

The image is multiplied pixel-wise by the explanation map (normalised to [0, 1]) and the
model's score for the explained class is read before (``Y``) and after (``O``):

- **average drop %**: ``100 · mean(max(0, Y − O) / Y)`` — how much confidence is lost when
  only the explained evidence is kept; lower is better;
- **increase in confidence %**: ``100 · mean(O > Y)``; higher is better.

Choices, each a parameter: the product is taken in the model's *normalised* input space,
as torchcam and pytorch-grad-cam do (``normalized_input=True``); the score is the softmax
probability (``output="softmax"``, the paper's); the map is normalised by its maximum after
clipping negatives (``normalization="max"``; torchcam's CAMs are min-max normalised, use
``"minmax"`` to match it). torchcam divides by ``Y + 1e-7``; we divide by ``Y`` (a softmax
probability is never 0 in float64), a relative difference below 1e-7/Y.
"""

from __future__ import annotations

from typing import Any

import torch

from xai_eval.errors import InputValidationError
from xai_eval.explain.state import ModelStateGuard
from xai_eval.metrics.curves import OUTPUTS
from xai_eval.metrics.curves import check_image as _check_image
from xai_eval.metrics.shapes import as_saliency, normalize_map


def confidence_change(model: torch.nn.Module, image: Any, target: int, saliency: Any, *,
                      output: str = "softmax", normalization: str = "max",
                      on_size_mismatch: str = "resize") -> tuple[float, float]:
    """``(Y, O)``: the class score of the image and of the image times the normalised map."""
    if output not in OUTPUTS:
        raise InputValidationError(f"output must be one of {OUTPUTS}, not {output!r}")
    image = _check_image(image)
    weights = normalize_map(as_saliency(saliency, tuple(image.shape[-2:]), on_size_mismatch),
                            normalization)
    mask = torch.from_numpy(weights).to(device=image.device, dtype=image.dtype)
    batch = torch.stack([image, image * mask[None]])
    with ModelStateGuard(model, eval_mode=True), torch.no_grad():
        logits = model(batch).double()
    scores = logits.softmax(dim=1) if output == "softmax" else logits
    return float(scores[0, int(target)]), float(scores[1, int(target)])


def average_drop(before: float, after: float) -> float:
    """``max(0, Y − O) / Y`` of one image (0 when ``Y <= 0``: nothing to drop from)."""
    if before <= 0:
        return 0.0
    return max(0.0, before - after) / before


__all__ = ["average_drop", "confidence_change"]
