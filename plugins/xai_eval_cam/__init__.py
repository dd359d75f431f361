"""Built-in plugin: class activation maps — CAM, Grad-CAM and their guided compositions.

One module per method: :mod:`.cam`, :mod:`.gradcam`, :mod:`.guided` (the compositions, which
find their pixel explainer through the registry).
"""

from __future__ import annotations

from xai_eval import hookimpl
from xai_eval_cam.cam import CAM
from xai_eval_cam.gradcam import GradCAM
from xai_eval_cam.guided import DeconvGradCAM, GuidedGradCAM

__all__ = ["CAM", "DeconvGradCAM", "GradCAM", "GuidedGradCAM"]


@hookimpl
def xai_eval_register_explainers() -> list[type]:
    return [CAM, GradCAM, GuidedGradCAM, DeconvGradCAM]
