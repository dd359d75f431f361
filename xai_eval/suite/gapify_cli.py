"""Glue between ``xai-eval gapify`` and :mod:`xai_eval.models.gapify`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from xai_eval.errors import XaiEvalError


def run_gapify(model_spec: str, cut_at: str, dataset_spec: str, epochs: int, out_path: Path,
               pool: str, channels: int, lr: float | None, batch_size: int | None,
               echo: Callable[[str], None] = print) -> None:
    """Convert and fine-tune a model with the gapify helpers."""
    try:
        from xai_eval.models import gapify as gapify_module  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "xai_eval.models.gapify":
            raise
        raise XaiEvalError(
            "xai_eval.models.gapify is not installed in this build; `xai-eval gapify` needs it"
        ) from None
    raise XaiEvalError("gapify integration pending")
