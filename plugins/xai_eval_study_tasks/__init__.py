"""Built-in study tasks: the Grad-CAM paper's class-discrimination and trust studies, and
model prediction (Colin et al. 2022: does an explanation help people predict the model?).

Registered through the same ``xai_eval_register_study_tasks`` hook a third-party study
type would use; nothing in the core names them.
"""

from __future__ import annotations

from typing import Any

from xai_eval import hookimpl
from xai_eval_study_tasks.class_discrimination import ClassDiscriminationTask
from xai_eval_study_tasks.model_prediction import ModelPredictionTask
from xai_eval_study_tasks.trust import TrustTask


@hookimpl
def xai_eval_register_study_tasks() -> list[type[Any]]:
    return [ClassDiscriminationTask, TrustTask, ModelPredictionTask]
