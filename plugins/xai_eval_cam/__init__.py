"""Built-in plugin: class activation maps — CAM, Grad-CAM and their guided compositions.

One module per method: :mod:`.cam`, :mod:`.gradcam`, :mod:`.guided` (the compositions, which
find their pixel explainer through the registry), and the later gradient-weighted variants
:mod:`.gradcam_pp`, :mod:`.xgradcam`, :mod:`.layercam`, :mod:`.hirescam` plus the
gradient-free :mod:`.eigencam`, :mod:`.scorecam` and :mod:`.ablationcam`.
"""

from __future__ import annotations

from xai_eval import hookimpl
from xai_eval_cam.ablationcam import AblationCAM
from xai_eval_cam.cam import CAM
from xai_eval_cam.eigencam import EigenCAM
from xai_eval_cam.gradcam import GradCAM
from xai_eval_cam.gradcam_pp import GradCAMPlusPlus
from xai_eval_cam.guided import DeconvGradCAM, GuidedGradCAM
from xai_eval_cam.hirescam import HiResCAM
from xai_eval_cam.layercam import LayerCAM
from xai_eval_cam.scorecam import ScoreCAM
from xai_eval_cam.xgradcam import XGradCAM

__all__ = ["AblationCAM", "CAM", "DeconvGradCAM", "EigenCAM", "GradCAM", "GradCAMPlusPlus", "GuidedGradCAM",
           "HiResCAM", "LayerCAM", "ScoreCAM", "XGradCAM"]


@hookimpl
def xai_eval_register_explainers() -> list[type]:
    return [CAM, GradCAM, GuidedGradCAM, DeconvGradCAM, GradCAMPlusPlus, XGradCAM, LayerCAM,
            HiResCAM, EigenCAM, ScoreCAM, AblationCAM]
