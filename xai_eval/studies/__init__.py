"""Human studies: definitions (YAML), task plugins, assignment, the two services,
statistics and the stimulus build.

Plugin authors subclass :class:`StudyTask`. The web layer uses only the two services,
:mod:`xai_eval.studies.participant_service` (starting, trials, answers) and
:mod:`xai_eval.studies.admin_service` (accounts, monitoring, results, exports, audit), and
their errors (:mod:`xai_eval.studies.errors`). Nothing here imports the web layer.
"""

from __future__ import annotations

from xai_eval.studies.tasks import StudyTask

__all__ = ["StudyTask"]
