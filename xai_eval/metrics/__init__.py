"""Metrics: pure functional forms (:mod:`xai_eval.metrics.functional`) and the accumulating
:class:`Metric` classes the metric plugins register (``xai-eval plugins`` lists them)."""

from __future__ import annotations

from xai_eval.metrics.base import Metric, MetricContext, MetricSample

__all__ = ["Metric", "MetricContext", "MetricSample"]
