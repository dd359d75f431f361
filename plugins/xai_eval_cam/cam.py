"""CAM (Zhou et al. 2016): the classifier's weights on globally average-pooled feature maps."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn as nn

from xai_eval.errors import UnsupportedModelError
from xai_eval.explain.base import LayerExplainer
from xai_eval.explain.targets import SelectedScores, TargetSpec, select_scores


def _gap_linear_head(model: nn.Module, grid: torch.Tensor, head_input: torch.Tensor,
                     layer_name: str) -> None:
    """Verify the classifier sees exactly the spatial mean of the target layer's maps."""
    pooled = grid.mean(dim=(-2, -1))
    if head_input.shape != pooled.shape or not torch.allclose(
        head_input.float(), pooled.float(), rtol=1e-4, atol=1e-5
    ):
        raise UnsupportedModelError(
            f"CAM needs the target layer's maps to be globally average-pooled straight into one "
            f"linear layer (Zhou et al. 2016). In {type(model).__name__}, the last linear layer "
            f"does not receive the spatial mean of {layer_name!r} (it gets shape "
            f"{tuple(head_input.shape)}, the pooled maps have {tuple(pooled.shape)}). Use "
            "'gradcam', which needs no GAP head, or build a GAP version with `xai-eval gapify`"
        )


class CAM(LayerExplainer):
    """Class activation mapping (Zhou et al. 2016): M_c = sum_k w_k^c A^k on a GAP -> linear head.

    Paper: https://arxiv.org/abs/1512.04150, eq. 2. The GAP -> linear head is found
    automatically (the last ``nn.Linear`` must receive the spatial mean of the target
    layer's maps); any other head is refused with an error that points to ``gradcam``.
    ``attribute`` returns the signed map (the paper applies no ReLU); the saliency map is its
    positive part, so Grad-CAM equals it divided by h*w on such a network (paper eq. 5-6).
    """

    name: ClassVar[str] = "cam"
    paper: ClassVar[str] = "Zhou et al. 2016, arXiv:1512.04150"
    oracle: ClassVar[str] = "hand closed form sum_k w_k A^k; = Grad-CAM x h*w on GAP nets"
    options: ClassVar[dict[str, Any]] = {"reshape": None, "classifier": None}
    needs_autograd: ClassVar[bool] = False

    def _classifier(self) -> nn.Linear:
        chosen = self.config["classifier"]
        if isinstance(chosen, str):
            chosen = dict(self.model.named_modules()).get(chosen)
        if isinstance(chosen, nn.Linear):
            return chosen
        linears = [m for m in self.model.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise UnsupportedModelError(
                f"CAM needs a linear classifier after global average pooling; "
                f"{type(self.model).__name__} has no nn.Linear layer. Use 'gradcam'"
            )
        return linears[-1]

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        classifier = self._classifier()
        head_inputs: list[torch.Tensor] = []

        def grab(_m: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            head_inputs.append(inputs[0].detach())

        # Resolve the layer first: an automatic choice runs a probe forward pass, which the
        # classifier hook below must not see.
        self._ensure_layer(images)
        handle = classifier.register_forward_pre_hook(grab)
        try:
            output, _activation, grid = self.forward_capture(images, need_grad=False)
        finally:
            handle.remove()
        assert self.layer is not None
        if len(head_inputs) != 1:
            raise UnsupportedModelError(
                f"CAM found {len(head_inputs)} calls of the classifier layer; it needs exactly one"
            )
        _gap_linear_head(self.model, grid, head_inputs[0], self.layer.name)
        selected = select_scores(output, targets, images.shape[0])
        if selected.class_ids is None:
            raise UnsupportedModelError(
                "CAM explains a class unit of the linear head; a targets callable cannot be "
                "mapped to classifier weights. Use 'gradcam' for arbitrary scores"
            )
        weights = classifier.weight.detach()[selected.class_ids]  # (B, K, C)
        cam = torch.einsum("bkc,bchw->bkhw", weights.to(grid.dtype), grid)
        return cam.unsqueeze(2), selected
