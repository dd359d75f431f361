"""RISE (Petsiuk et al. 2018): saliency as the score-weighted average of random masks."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from xai_eval.errors import InputValidationError
from xai_eval.explain.base import Explainer
from xai_eval.explain.scoring import (
    check_fraction,
    check_positive_int,
    check_score,
    per_image_targets,
    refuse_prob_with_callable,
    score_rows,
)
from xai_eval.explain.targets import SelectedScores, TargetSpec, select_scores


def rise_masks(n: int, grid: int, p: float, size: tuple[int, int], *, seed: int,
               dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
               ) -> torch.Tensor:
    """(n, 1, H, W) soft masks, the paper's §3.2 recipe, reproducible from ``seed``.

    A ``grid`` x ``grid`` binary grid (each cell kept with probability ``p``) is upsampled
    bilinearly to ``(grid + 1) * cell`` with ``cell = ceil(H / grid)`` and cropped at a
    random shift in ``[0, cell)`` per axis. The authors resize with scikit-image; torch's
    bilinear interpolation (align_corners=False) samples the same grid up to half a pixel.
    Generated on the CPU with its own generator, so the masks do not depend on the device.
    """
    height, width = size
    cell_h, cell_w = math.ceil(height / grid), math.ceil(width / grid)
    gen = torch.Generator().manual_seed(seed)
    cells = (torch.rand(n, 1, grid, grid, generator=gen) < p).to(torch.float64)
    up = F.interpolate(cells, size=((grid + 1) * cell_h, (grid + 1) * cell_w), mode="bilinear",
                       align_corners=False)
    dy = torch.randint(0, cell_h, (n,), generator=gen)
    dx = torch.randint(0, cell_w, (n,), generator=gen)
    masks = torch.stack([up[i, :, y:y + height, x:x + width]
                         for i, (y, x) in enumerate(zip(dy.tolist(), dx.tolist(), strict=True))])
    return masks.to(dtype=dtype, device=device)


class RISE(Explainer):
    """RISE (Petsiuk et al. 2018): S_c = sum_i s_c(X * M_i) M_i / (N p), eq. 6.

    Paper: https://arxiv.org/abs/1806.07421. Options: ``n_masks`` (N; the paper uses 4000
    for ResNet-50, the default here), ``grid`` (s = 7), ``p`` (0.5), ``score``
    (``"prob"``, the class probability as in the paper, or ``"logit"``), ``seed`` (the
    masks come from it: same seed, same map), ``batch_size`` (masked images per forward
    pass; results do not depend on it) and ``progress``. The same N masks serve every
    image; all B x N masked images go through the model in chunks and each chunk is
    scored for every image's K targets at once. No gradients.
    """

    name: ClassVar[str] = "rise"
    paper: ClassVar[str] = "Petsiuk et al. 2018, arXiv:1806.07421"
    oracle: ClassVar[str] = "per-mask per-class loop on the same masks (no peer ships RISE)"
    options: ClassVar[dict[str, Any]] = {"n_masks": 4000, "grid": 7, "p": 0.5, "score": "prob",
                                         "seed": 0, "batch_size": 64, "progress": False}
    needs_autograd: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        check_positive_int(cfg["n_masks"], "rise n_masks")
        check_positive_int(cfg["grid"], "rise grid")
        check_positive_int(cfg["batch_size"], "rise batch_size")
        check_fraction(cfg["p"], "rise p")
        check_score(cfg["score"], self.name)
        if isinstance(cfg["seed"], bool) or not isinstance(cfg["seed"], int):
            raise InputValidationError(f"rise seed must be an int, not {cfg['seed']!r}")

    def masks(self, size: tuple[int, int], dtype: torch.dtype = torch.float32,
              device: torch.device | str | None = None) -> torch.Tensor:
        """The (N, 1, H, W) masks this explainer uses for images of ``size``."""
        cfg = self.config
        return rise_masks(cfg["n_masks"], cfg["grid"], cfg["p"], size, seed=cfg["seed"],
                          dtype=dtype, device=device)

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        cfg = self.config
        refuse_prob_with_callable(cfg["score"], targets, self.name)
        batch = images.shape[0]
        masks = self.masks(tuple(images.shape[-2:]), images.dtype, images.device)
        n = masks.shape[0]
        with torch.no_grad():
            selected = select_scores(self.model(images), targets, batch)
            per_image = per_image_targets(selected.class_ids, targets)

            def build(start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
                rows = torch.arange(start, stop, device=images.device)
                img_idx = rows // n
                return images[img_idx] * masks[rows % n], img_idx

            k = selected.scores.shape[1]
            scores = score_rows(self.model, build, batch * n, per_image, k, score=cfg["score"],
                                batch_size=cfg["batch_size"], progress=cfg["progress"],
                                desc=self.name)
            weights = scores.reshape(batch, n, k).transpose(1, 2).to(masks.dtype)  # (B, K, N)
            sal = torch.einsum("bkn,nhw->bkhw", weights, masks[:, 0]) / (n * cfg["p"])
        return sal.unsqueeze(2), selected
