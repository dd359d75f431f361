"""The participant service: the only way participant pages and the JSON API touch study data.

The web layer is a thin shell around these functions::

    visit = parse_visit(request.args)             # PlatformVisit, or PlatformParameterError
    study = get_study(session, "class_discrimination")
    started = start_or_resume(session, study, visit, id_key=platform_id_key(app.config))
    # -> started.token goes into the participant's cookie
    step = next_trial(session, token)             # TrialView (no answer key) or Finished
    outcome = submit_answer(session, token, step.trial_id, "dog", rt_ms=1834)

Contract:

- Mutating functions (:func:`start_or_resume`, :func:`submit_answer`) **commit their own
  transaction** before returning, so a returned value means the write is durable
  (acknowledge only then). On any error they roll back: nothing is half-written. SQLite
  "database is locked" and PostgreSQL serialization/deadlock errors are retried with
  backoff, then :class:`~xai_eval.studies.errors.DatabaseBusyError`
  (:mod:`xai_eval.studies.transactions`).
- Errors are :class:`~xai_eval.studies.errors.StudyError` subclasses with an HTTP
  ``status``; their messages are safe to show.
- Nothing returned to a participant contains an answer key, a model/explainer name or a
  stimulus database id: trials are addressed by a random ``trial_id`` and pictures by
  ``(trial_id, position)`` through :func:`trial_stimulus`.

Where each part lives: who may start or resume, and the sequence a new participant gets,
in :mod:`xai_eval.studies.enrolment`; the token in :mod:`xai_eval.studies.tokens`; the
platform visit and the id hashing in :mod:`xai_eval.studies.platform`; trials and answers
in :mod:`xai_eval.studies.trials`; the texts shown in :mod:`xai_eval.studies.texts`.
"""

from __future__ import annotations

from xai_eval.studies.catalog import get_study, open_studies
from xai_eval.studies.enrolment import start_or_resume
from xai_eval.studies.platform import (
    MTURK_SUBMIT_ORIGINS,
    PlatformVisit,
    parse_visit,
    platform_id_key,
)
from xai_eval.studies.texts import study_texts
from xai_eval.studies.tokens import participant_for_token, token_is_valid
from xai_eval.studies.trials import next_trial, submit_answer, trial_stimulus
from xai_eval.studies.views import (
    Finished,
    OptionView,
    StartResult,
    StimulusFile,
    StimulusView,
    SubmitOutcome,
    TrialView,
)

__all__ = [
    "MTURK_SUBMIT_ORIGINS", "Finished", "OptionView", "PlatformVisit", "StartResult",
    "StimulusFile", "StimulusView", "SubmitOutcome", "TrialView", "get_study", "next_trial",
    "open_studies", "parse_visit", "participant_for_token", "platform_id_key",
    "start_or_resume", "study_texts", "submit_answer", "token_is_valid", "trial_stimulus",
]
