"""Built-in plugin: model-free and perturbation maps — occlusion, RISE and the centre baseline."""

from __future__ import annotations

from xai_eval import hookimpl
from xai_eval_perturbation.center import CenterBaseline
from xai_eval_perturbation.occlusion import Occlusion
from xai_eval_perturbation.rise import RISE

__all__ = ["RISE", "CenterBaseline", "Occlusion"]


@hookimpl
def xai_eval_register_explainers() -> list[type]:
    return [Occlusion, RISE, CenterBaseline]
