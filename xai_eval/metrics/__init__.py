"""Metrics: pure functional forms (:mod:`xai_eval.metrics.functional`) and the accumulating
:class:`Metric` classes the metric plugins register (``xai-eval plugins`` lists them)."""

from __future__ import annotations

from xai_eval.metrics.base import Metric, MetricSample

__all__ = ["Metric", "MetricSample"]
