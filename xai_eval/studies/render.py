"""Turn an explanation into the PNG a participant sees.

Two looks, as in the Grad-CAM paper's figures:

- **pixel-space methods** (guided backprop, deconvnet, their Grad-CAM products): the signed
  3-channel attribution itself, centred on grey (``0.5 + 0.1 * a / std``, clipped) — the
  usual way these gradients are displayed;
- **maps** (Grad-CAM, CAM, ...): a jet heat map blended over the image.

``mode="map"`` forces a grey-level map, ``"overlay"`` the heat map. The PNG encoder is
deterministic (no timestamps), so the same pixels give the same bytes and content hash.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import torch
from PIL import Image


def gradient_image(attribution: torch.Tensor) -> np.ndarray:
    """(3, H, W) signed attribution -> (H, W, 3) uint8, zero at mid-grey."""
    a = attribution.detach().float().cpu()
    a = a - a.mean()
    std = a.std()
    if not torch.isfinite(std) or std <= 0:
        a = torch.zeros_like(a)
    else:
        a = a / std
    rgb = (0.5 + 0.1 * a).clamp(0, 1)
    return (rgb.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def heatmap_overlay(image: Image.Image, saliency: torch.Tensor, alpha: float) -> np.ndarray:
    """(H, W) map in [0, 1] as a jet heat map over ``image`` resized to the map."""
    from matplotlib import colormaps

    m = saliency.detach().float().cpu().clamp(0, 1).numpy()
    heat = colormaps["jet"](m)[..., :3]
    base = np.asarray(image.convert("RGB").resize((m.shape[1], m.shape[0]),
                                                  Image.BILINEAR), dtype=np.float64) / 255
    out = (1 - alpha) * base + alpha * heat
    return (out * 255).round().clip(0, 255).astype(np.uint8)


def grey_map(saliency: torch.Tensor) -> np.ndarray:
    m = saliency.detach().float().cpu().clamp(0, 1).numpy()
    return np.repeat((m[..., None] * 255).round().astype(np.uint8), 3, axis=2)


def render_explanation(image: Image.Image, raw: torch.Tensor, saliency: torch.Tensor,
                       mode: str = "auto", alpha: float = 0.5, size: int | None = None
                       ) -> np.ndarray:
    """The picture for one explanation: ``raw`` (c, h, w) attribution, ``saliency`` (H, W)
    normalised map. ``auto`` picks the gradient image for 3-channel input-resolution
    attributions and the overlay otherwise."""
    if mode == "map":
        pixels = grey_map(saliency)
    elif mode == "auto" and raw.shape[0] == 3 and tuple(raw.shape[-2:]) == tuple(
            saliency.shape[-2:]):
        pixels = gradient_image(raw)
    else:
        pixels = heatmap_overlay(image, saliency, alpha)
    if size is not None and pixels.shape[:2] != (size, size):
        pixels = np.asarray(Image.fromarray(pixels).resize((size, size), Image.BILINEAR))
    return pixels


def png_bytes(pixels: np.ndarray) -> bytes:
    """Deterministic PNG encoding of an (H, W, 3) uint8 array."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
