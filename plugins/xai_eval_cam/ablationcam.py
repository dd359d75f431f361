"""Ablation-CAM (Desai & Ramaswamy 2020): each channel weighted by the score drop when it is zeroed."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn as nn

from xai_eval.errors import LayerResolutionError
from xai_eval.explain.base import LayerExplainer
from xai_eval.explain.scoring import (
    check_positive_int,
    per_image_targets,
    score_rows,
)
from xai_eval.explain.targets import SelectedScores, TargetSpec, select_scores


class AblationCAM(LayerExplainer):
    """Ablation-CAM (Desai & Ramaswamy 2020): ReLU(sum_k (y^c - y^c_k) / y^c A^k), eq. 3-4.

    Paper: https://doi.org/10.1109/WACV45572.2020.9093360. ``y^c_k`` is the class score
    (logit) with channel k of the target layer set to zero. As in the paper (and in
    pytorch-grad-cam), the drop is divided by ``y^c`` itself, so a class with a negative
    score gets sign-flipped weights; a score of exactly 0 gives weight 0.

    Cost: the network below the target layer runs once per chunk of ``batch_size``
    (default 512) ablated copies of one image's layer output, which are substituted in the
    layer's forward hook (one chunk serves all K targets). A model that cannot run a bigger batch
    after the layer than before it (it reshapes with the input's batch size) falls back to
    feeding one copy of the image per ablated channel, which pytorch-grad-cam always does.
    """

    name: ClassVar[str] = "ablationcam"
    paper: ClassVar[str] = "Desai & Ramaswamy 2020, doi:10.1109/WACV45572.2020.9093360"
    oracle: ClassVar[str] = "pytorch-grad-cam AblationCAM (1e-5); hand loop"
    #: rows are ablated copies of the layer's output, which only the network after the
    #: layer processes: large chunks keep the prefix (one image per chunk) rare
    options: ClassVar[dict[str, Any]] = {"reshape": None, "batch_size": 512, "progress": False}
    needs_autograd: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        check_positive_int(self.config["batch_size"], f"{self.name} batch_size")
        self._expand_ok: bool | None = None

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        with torch.no_grad():
            output, activation, grid = self.forward_capture(images, need_grad=False)
            selected = select_scores(output, targets, images.shape[0])
            per_image = per_image_targets(selected.class_ids, targets)
            k = selected.scores.shape[1]
            batch, channels = grid.shape[:2]
            ablated = self._ablated_scores(images, activation, channels, per_image, k)
            base = selected.scores.detach()[:, :, None]  # (B, K, 1)
            drops = base - ablated.reshape(batch, channels, k).transpose(1, 2)
            safe = torch.where(base != 0, base, torch.ones_like(base))
            weights = torch.where(base != 0, drops / safe, torch.zeros_like(drops))
            cam = torch.einsum("bkc,bchw->bkhw", weights.to(grid.dtype), grid)
        return cam.unsqueeze(2).clamp(min=0), selected

    def _ablate(self, activation: torch.Tensor, start: int, stop: int, channels: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows start:stop of the ablated batch (raw layer layout) and their image indices."""
        assert self.layer is not None
        rows = torch.arange(start, stop, device=activation.device)
        img_idx, channel = rows // channels, rows % channels
        copies = activation[img_idx].clone()
        which = torch.arange(len(rows), device=activation.device)
        reshape = self.config.get("reshape")
        if reshape is not None:
            grid = reshape(copies)
            if grid.data_ptr() != copies.data_ptr():
                raise LayerResolutionError(
                    "ablationcam zeroes channels through the reshape function's output, so it "
                    "must return a view of the layer's output (no copy)")
            grid[which, channel] = 0
        elif self.layer.layout == "nchw":
            copies[which, channel] = 0
        else:  # nhwc, tokens: channels last (a class token's feature is zeroed too)
            copies[which, ..., channel] = 0
        return copies, img_idx

    def _ablated_scores(self, images: torch.Tensor, activation: torch.Tensor, channels: int,
                        per_image: TargetSpec, k: int) -> torch.Tensor:
        """(B * C, K) scores with one channel zeroed per row."""
        assert self.layer is not None
        pending: list[torch.Tensor] = []
        calls = [0]
        wanted = self.layer.call  # which call of a reused module is explained (None: the only)

        def substitute(_m: nn.Module, _i: object, out: Any) -> Any:
            call, calls[0] = calls[0], calls[0] + 1
            return pending[0] if wanted is None or call == wanted else out

        def build(start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
            copies, img_idx = self._ablate(activation, start, stop, channels)
            pending[:], calls[0] = [copies], 0
            return images[img_idx], img_idx

        def build_shared(start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]:
            copies, img_idx = self._ablate(activation, start, stop, channels)
            pending[:], calls[0] = [copies], 0
            return images[img_idx[:1]], img_idx  # one copy of the (single) image

        total = activation.shape[0] * channels
        step = self.config["batch_size"]
        handle = self.layer.module.register_forward_hook(substitute)
        try:
            if self._expand_ok is not False:
                try:
                    # chunks within one image, so the prefix runs on that image alone
                    scores = self._per_image_chunks(build_shared, total, channels, step,
                                                    per_image, k)
                    self._expand_ok = True
                    return scores
                except RuntimeError:
                    if self._expand_ok:
                        raise
                    self._expand_ok = False
            return score_rows(self.model, build, total, per_image, k, batch_size=step,
                              progress=self.config["progress"], desc=self.name)
        finally:
            handle.remove()

    def _per_image_chunks(self, build, total: int, channels: int, step: int,
                          per_image: TargetSpec, k: int) -> torch.Tensor:
        """score_rows over chunks that never straddle two images."""
        from xai_eval.explain.scoring import class_scores

        out: torch.Tensor | None = None
        for image_start in range(0, total, channels):
            for start in range(image_start, image_start + channels, step):
                stop = min(start + step, image_start + channels)
                inputs, img_idx = build(start, stop)
                chunk_targets = per_image[img_idx] if isinstance(per_image, torch.Tensor) \
                    else per_image
                result = self.model(inputs)
                if not isinstance(result, torch.Tensor) or result.shape[0] != stop - start:
                    raise RuntimeError("output batch differs from the substituted batch")
                scores = class_scores(result, chunk_targets, stop - start, "logit")
                if out is None:
                    out = scores.new_empty(total, k)
                out[start:stop] = scores
        assert out is not None
        return out
