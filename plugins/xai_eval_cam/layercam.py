"""LayerCAM (Jiang et al. 2021): every location weighted by its own positive gradient."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xai_eval_cam._gradient_cam import GradientCAM


class LayerCAM(GradientCAM):
    """LayerCAM (Jiang et al. 2021): M = ReLU(sum_k ReLU(g^k) * A^k), eq. 5-6.

    Paper: https://doi.org/10.1109/TIP.2021.3089943. One layer at a time; the paper's tanh
    rescaling (eq. 9) only serves fusing several layers and is not applied.
    """

    name: ClassVar[str] = "layercam"
    paper: ClassVar[str] = "Jiang et al. 2021, doi:10.1109/TIP.2021.3089943"
    oracle: ClassVar[str] = "pytorch-grad-cam LayerCAM (1e-5)"
    options: ClassVar[dict[str, Any]] = {"reshape": None}

    def combine(self, activation: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        return (grads.clamp(min=0) * activation).sum(dim=2, keepdim=True)
