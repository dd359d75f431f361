"""Built-in plugin: class activation maps — CAM, Grad-CAM and their guided compositions."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn as nn

from xai_eval import hookimpl
from xai_eval.errors import UnsupportedModelError
from xai_eval.explain.base import Explainer, LayerExplainer
from xai_eval.explain.postprocess import upsample
from xai_eval.explain.targets import SelectedScores, TargetSpec, select_scores


class GradCAM(LayerExplainer):
    """Grad-CAM (Selvaraju et al. 2017): ReLU(sum_k alpha_k A^k), alpha_k = mean of dy^c/dA^k.

    Paper: https://arxiv.org/abs/1610.02391, eq. 1-2. ``counterfactual=True`` negates the
    gradients (paper §3.1, "counterfactual explanations"): regions that would lower the
    score. ``attribute`` returns the rectified (B, 1, h, w) map at the target layer.

    Example::

        explainer = xai_eval.get_explainer("gradcam", resnet, target_layer="layer4")
        maps = explainer(images, targets=torch.tensor([[207, 281]]))  # (1, 2, H, W)
    """

    name: ClassVar[str] = "gradcam"
    options: ClassVar[dict[str, Any]] = {"reshape": None, "counterfactual": False}

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        with torch.enable_grad():
            output, activation, grid = self.forward_capture(images)
            selected = select_scores(output, targets, images.shape[0])
        assert self.layer is not None
        grads = self.gradients(selected.scores, activation, self.layer.layout)  # (B,K,C,h,w)
        if self.config["counterfactual"]:
            grads = -grads
        weights = grads.mean(dim=(-2, -1), keepdim=True)  # alpha_k^c, (B, K, C, 1, 1)
        cam = (weights * grid.detach().unsqueeze(1)).sum(dim=2, keepdim=True)
        return cam.clamp(min=0), selected


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


class GuidedGradCAM(Explainer):
    """Guided Grad-CAM (Selvaraju et al. 2017): guided backprop x upsampled Grad-CAM, per channel.

    A composition of the ``gradcam`` and ``guided_backprop`` explainers (two passes, since
    the guided rule must not touch the gradient Grad-CAM takes); ``attribute`` returns the
    (B, 3, H, W) product, the map is its max |.| over channels.
    """

    name: ClassVar[str] = "guided_gradcam"
    options: ClassVar[dict[str, Any]] = {"reshape": None}
    pixel_method: ClassVar[str] = "guided_backprop"

    def _init_layer(self, target_layer: str | nn.Module | None) -> None:
        from xai_eval_gradients import Deconvnet, GuidedBackprop

        pixel_cls = {"guided_backprop": GuidedBackprop, "deconvnet": Deconvnet}[self.pixel_method]
        self.gradcam = GradCAM(self.model, target_layer, eval_mode=self.eval_mode, **self.config)
        self.pixels = pixel_cls(self.model, eval_mode=self.eval_mode)
        self.layer = self.gradcam.layer

    def _raw(self, images: torch.Tensor, targets: TargetSpec) -> tuple[torch.Tensor, SelectedScores]:
        coarse, selected = self.gradcam._raw(images, targets)
        self.layer = self.gradcam.layer
        # Explain exactly the classes Grad-CAM chose (matters when targets is None).
        pixel_targets = selected.class_ids if selected.class_ids is not None else targets
        fine, _ = self.pixels._raw(images, pixel_targets)
        return fine * upsample(coarse, tuple(images.shape[-2:])), selected


class DeconvGradCAM(GuidedGradCAM):
    """Deconvolution Grad-CAM: deconvnet x upsampled Grad-CAM (a condition of the paper's human study)."""

    name: ClassVar[str] = "deconv_gradcam"
    pixel_method: ClassVar[str] = "deconvnet"


@hookimpl
def xai_eval_register_explainers() -> list[type]:
    return [CAM, GradCAM, GuidedGradCAM, DeconvGradCAM]
