"""The JSON API blueprint under ``/api`` (``static/openapi.yaml``; the guide is docs/api.md)."""

from __future__ import annotations

from xai_eval.web.api.endpoints import bp

__all__ = ["bp"]
