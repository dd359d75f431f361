"""Built-in plugin: localization metrics — pointing game (plain and energy), the papers'
localization error, MaxBoxAcc v1/v2 and PxAP, mask IoU."""

from __future__ import annotations

from typing import Any

from xai_eval import hookimpl
from xai_eval_localization_metrics.localization_error import LocalizationError
from xai_eval_localization_metrics.mask_iou import MaskIoU
from xai_eval_localization_metrics.pointing_game import EnergyPointingGame, PointingGame
from xai_eval_localization_metrics.wsol import MaxBoxAcc, PxAP

__all__ = ["EnergyPointingGame", "LocalizationError", "MaskIoU", "MaxBoxAcc", "PointingGame", "PxAP"]


@hookimpl
def xai_eval_register_metrics() -> list[type[Any]]:
    """The localization metrics."""
    return [PointingGame, EnergyPointingGame, LocalizationError, MaxBoxAcc, PxAP, MaskIoU]
