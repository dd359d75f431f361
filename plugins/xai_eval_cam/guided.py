"""Guided Grad-CAM and Deconvolution Grad-CAM: a pixel-space map times upsampled Grad-CAM.

The pixel explainer (``guided_backprop``, ``deconvnet``) is looked up by name in the
registries the composition was built from, not imported from its plugin: blocking the
gradient plugin then leaves CAM and Grad-CAM working and makes only these two refuse, with
an error that names the missing method.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn as nn

from xai_eval.errors import UnknownNameError
from xai_eval.explain.base import Explainer
from xai_eval.explain.postprocess import upsample
from xai_eval.explain.targets import SelectedScores, TargetSpec
from xai_eval.plugins import Registries, default_registries
from xai_eval_cam.gradcam import GradCAM


class GuidedGradCAM(Explainer):
    """Guided Grad-CAM (Selvaraju et al. 2017): guided backprop x upsampled Grad-CAM, per channel.

    A composition of the ``gradcam`` and ``guided_backprop`` explainers (two passes, since
    the guided rule must not touch the gradient Grad-CAM takes); ``attribute`` returns the
    (B, 3, H, W) product, the map is its max |.| over channels.
    """

    name: ClassVar[str] = "guided_gradcam"
    paper: ClassVar[str] = "Selvaraju et al. 2017, arXiv:1610.02391"
    oracle: ClassVar[str] = "Captum GuidedGradCam"
    options: ClassVar[dict[str, Any]] = {"reshape": None}
    pixel_method: ClassVar[str] = "guided_backprop"
    #: :func:`xai_eval.get_explainer` passes the registries it used (``registries=``)
    composes_explainers: ClassVar[bool] = True

    def __init__(self, model: nn.Module, target_layer: str | nn.Module | None = None, *,
                 eval_mode: bool = True, registries: Registries | None = None,
                 **options: Any) -> None:
        self._registries = registries
        super().__init__(model, target_layer, eval_mode=eval_mode, **options)

    def _pixel_class(self) -> type[Explainer]:
        registries = self._registries or default_registries()
        try:
            return registries.get("explainers", self.pixel_method).cls
        except UnknownNameError as exc:
            raise UnknownNameError(
                f"{self.name} multiplies Grad-CAM with the {self.pixel_method!r} explainer, "
                f"which no loaded plugin registers (is the gradient plugin blocked?): {exc}"
            ) from None

    def _init_layer(self, target_layer: str | nn.Module | None) -> None:
        pixel_cls = self._pixel_class()
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
    oracle: ClassVar[str] = "its parts: Captum Deconvolution and LayerGradCam (guided_gradcam's code)"
    pixel_method: ClassVar[str] = "deconvnet"
