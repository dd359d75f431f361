"""The participant blueprint (``/studies/``, ``/study/<slug>/...``): server-rendered pages.

Templates are in ``templates/participant/``; the trial loop is ``static/study.js``, which
talks to the API blueprint (:mod:`xai_eval.web.api`).
"""

from __future__ import annotations

from xai_eval.web.participant.pages import bp

__all__ = ["bp"]
