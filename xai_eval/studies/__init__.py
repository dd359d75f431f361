"""Human studies: definitions (YAML), task plugins, assignment, the participant service,
statistics and the stimulus build.

Plugin authors subclass :class:`StudyTask`; the web layer uses :mod:`xai_eval.studies.service`.
"""

from __future__ import annotations

from xai_eval.studies.tasks import StudyTask

__all__ = ["StudyTask"]
