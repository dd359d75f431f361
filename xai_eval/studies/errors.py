"""Errors of the study services; the web layer maps each to one HTTP status (see ``status``).

Every message says what was wrong and what to do; none contains an answer key, a token or
a stack trace, so the web layer may show ``str(error)`` to a participant.

This module is the bottom of the studies package: it imports nothing of xai-eval but the
root error class, so every other module (task plugins included) may import it.
"""

from __future__ import annotations

from xai_eval.errors import XaiEvalError


class AnswerError(XaiEvalError, ValueError):
    """An answer that is malformed, oversized or not one of the trial's options.

    Raised by :meth:`xai_eval.studies.tasks.StudyTask.validate_answer` (task plugins import
    it from :mod:`xai_eval.studies.tasks`); the participant service turns it into
    :class:`InvalidAnswerError`.
    """


class StudyError(XaiEvalError):
    """Base class of study-service errors; ``status`` is the HTTP status to answer with."""

    status = 400


class StudyDefinitionError(StudyError, ValueError):
    """A study YAML file is invalid (the message lists every problem and the valid names)."""


class PlatformParameterError(StudyError, ValueError):
    """A crowd-platform parameter of the study URL (Prolific or MTurk id, ``turkSubmitTo``)
    is malformed; the participant should open the study from the platform's link again."""


class PlatformKeyError(StudyError, RuntimeError):
    """No key to hash platform ids with: the server has neither ``ID_KEY`` nor a secret key."""

    status = 500


class StudyNotFoundError(StudyError, LookupError):
    """No study with this slug has been built."""

    status = 404


class StudyClosedError(StudyError):
    """The study does not accept new participants (status draft, paused or closed)."""

    status = 403


class PlatformIdRequiredError(StudyError):
    """The study takes only participants sent by Prolific or MTurk (``require_platform_id``)."""

    status = 403


class PreviewModeError(StudyError):
    """MTurk preview (``ASSIGNMENT_ID_NOT_AVAILABLE``): show the task, start nothing."""

    status = 403


class InvalidTokenError(StudyError, PermissionError):
    """The participant token is missing, malformed or unknown."""

    status = 401


class AlreadyCompletedError(StudyError):
    """This platform id has already completed (or was excluded from) the study."""

    status = 409


class ParticipantFinishedError(StudyError):
    """The participant has finished; no more answers are accepted."""

    status = 409


class UnknownTrialError(StudyError, LookupError):
    """No trial with this id exists."""

    status = 404


class ForeignTrialError(UnknownTrialError):
    """The trial belongs to another participant (answered like an unknown trial: 404)."""

    status = 404


class TrialOrderError(StudyError):
    """The trial is not the participant's current one; fetch the next trial first."""

    status = 409


class InvalidAnswerError(StudyError, AnswerError):
    """The answer is malformed, oversized or not an option (also raised for a bad rt_ms)."""

    status = 422


class ThrottledError(StudyError):
    """Too many attempts from this client or for this account: try again after
    ``retry_after`` seconds (answered at once as 429 with ``Retry-After``)."""

    status = 429

    def __init__(self, message: str, retry_after: int, scope: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))
        #: what is blocked ("login_client", "login_account", ...), None if not a counter
        self.scope = scope


class PlatformSessionMismatchError(StudyError, PermissionError):
    """A known platform id arrived from another platform session (Prolific ``SESSION_ID``,
    MTurk ``assignmentId``): resuming is refused and the holder keeps the session."""

    status = 403


class StorageError(StudyError, RuntimeError):
    """The database file was replaced or deleted under the running server: nothing written
    can be trusted to last, so nothing is acknowledged."""

    status = 503


class DatabaseBusyError(StudyError, RuntimeError):
    """The database stayed locked/busy through every retry; nothing was written."""

    status = 503


__all__ = [
    "AlreadyCompletedError", "AnswerError", "DatabaseBusyError", "ForeignTrialError",
    "InvalidAnswerError", "InvalidTokenError", "ParticipantFinishedError",
    "PlatformIdRequiredError", "PlatformKeyError", "PlatformParameterError", "PlatformSessionMismatchError",
    "PreviewModeError", "StorageError", "StudyClosedError", "StudyDefinitionError",
    "StudyError", "StudyNotFoundError", "ThrottledError", "TrialOrderError",
    "UnknownTrialError",
]
