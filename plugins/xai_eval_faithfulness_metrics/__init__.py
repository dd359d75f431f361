"""Built-in plugin: faithfulness metrics — deletion/insertion AUC (RISE), rank correlation
with occlusion (Grad-CAM §5.3), the model-randomisation sanity check (Adebayo et al.), and
average drop / increase in confidence (Grad-CAM++)."""

from __future__ import annotations

from typing import Any

from xai_eval import hookimpl
from xai_eval_faithfulness_metrics.confidence import AverageDrop
from xai_eval_faithfulness_metrics.deletion import Deletion, Insertion
from xai_eval_faithfulness_metrics.occlusion_correlation import OcclusionCorrelation
from xai_eval_faithfulness_metrics.road import Road
from xai_eval_faithfulness_metrics.sanity import SanityRandomization

__all__ = ["AverageDrop", "Deletion", "Insertion", "OcclusionCorrelation", "Road",
           "SanityRandomization"]


@hookimpl
def xai_eval_register_metrics() -> list[type[Any]]:
    """The faithfulness metrics."""
    return [Deletion, Insertion, OcclusionCorrelation, SanityRandomization, AverageDrop, Road]
