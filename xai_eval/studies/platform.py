"""A crowd-platform visit: what Prolific or MTurk appended to the study URL, and its hashes.

This is the one place that knows the platforms. The web layer hands it the query string
(or the consent form's hidden fields, or an API body) and gets a validated
:class:`PlatformVisit`; the participant service stores the visit's ids as keyed hashes.

- **Prolific** appends ``PROLIFIC_PID``, ``STUDY_ID`` and ``SESSION_ID`` and expects the
  participant back at a completion URL carrying a code.
- **MTurk**'s ExternalQuestion appends ``workerId``, ``assignmentId``, ``hitId`` and
  ``turkSubmitTo``, and expects a POST of the assignment to
  ``<turkSubmitTo>/mturk/externalSubmit``. While a worker only *previews* the HIT,
  ``assignmentId`` is ``ASSIGNMENT_ID_NOT_AVAILABLE``: that, and nothing else, is a
  preview (the task is shown, nothing is started). An accepted assignment must name its
  worker. ``turkSubmitTo`` comes from the URL, so anyone can forge it: only MTurk's own two
  hosts are accepted, or the debrief page would post to whatever site a crafted link named.
- Anything else is a **direct** visit (no platform ids).

Ids are short opaque tokens; a malformed one is refused (:class:`PlatformParameterError`),
never truncated or passed on.

**Hashing.** The person's id is what makes "take a study once" enforceable, but it is
personal data: it is stored as HMAC-SHA256 keyed with the server's id key and the study's
random salt, so the raw id cannot be recovered from the database alone and the same person
hashes differently in different studies. :func:`platform_id_key` is the one rule for that
key, used by the app and the command line alike, so a hash computed outside the server
matches the server's for the same configuration.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from xai_eval.studies.errors import PlatformKeyError, PlatformParameterError

PROLIFIC_KEYS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")
MTURK_KEYS = ("workerId", "assignmentId", "hitId", "turkSubmitTo")
#: ``assignmentId`` while an MTurk worker previews the HIT (has not accepted it).
MTURK_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"
#: Where MTurk accepts the finished assignment (production and sandbox).
MTURK_SUBMIT_ORIGINS = ("https://www.mturk.com", "https://workersandbox.mturk.com")
#: Longest platform id accepted.
MAX_ID_CHARS = 128
_ID_PATTERN = re.compile(rf"^[A-Za-z0-9_\-.:]{{1,{MAX_ID_CHARS}}}$")
#: Domain separation of the id key derived from the app's secret key.
_DERIVED_KEY_PREFIX = b"xai-eval-platform-ids:"


@dataclass(frozen=True)
class PlatformVisit:
    """Who sent the participant here and with which ids (plain values, hashed when stored)."""

    platform: str = "direct"  # "prolific" | "mturk" | "direct"
    ids: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_preview(self) -> bool:
        """MTurk preview: show the task, never start it (the worker has not accepted)."""
        return self.platform == "mturk" and self.ids.get("assignmentId") == MTURK_PREVIEW

    @property
    def main_id(self) -> str | None:
        """The id that makes a person unique on the platform (one attempt per study)."""
        key = {"prolific": "PROLIFIC_PID", "mturk": "workerId"}.get(self.platform)
        return self.ids.get(key) if key else None

    @property
    def session_id(self) -> str | None:
        """The platform's id of this attempt (Prolific ``SESSION_ID``, MTurk ``assignmentId``):
        what binds a resume to the person's own platform session."""
        key = {"prolific": "SESSION_ID", "mturk": "assignmentId"}.get(self.platform)
        return self.ids.get(key) if key else None

    @property
    def mturk_submit_url(self) -> str | None:
        """Where the debrief page posts an MTurk assignment (None off MTurk)."""
        submit_to = self.ids.get("turkSubmitTo")
        return f"{submit_to}/mturk/externalSubmit" if submit_to else None

    def stored(self, salt: str, key: bytes, plain: bool = False) -> dict[str, str]:
        """The parameters as stored: keyed hashes (default) or, if the study says so, plain.
        ``turkSubmitTo`` is a URL, not an id, and is kept as is."""
        if plain:
            return dict(self.ids)
        return {k: (v if k == "turkSubmitTo" else hash_platform_id(v, salt, key))
                for k, v in self.ids.items()}


def _clean_id(name: str, value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not _ID_PATTERN.match(text):
        raise PlatformParameterError(
            f"URL parameter {name} is not a valid platform id (1-{MAX_ID_CHARS} letters, "
            "digits, '-', '_', '.', ':'); open the study from the link the platform gave you")
    return text


def _given(args: Mapping[str, Any], key: str) -> bool:
    """A parameter counts when it is present and not empty (``?workerId=`` is absent)."""
    return bool(args.get(key))


def parse_visit(args: Mapping[str, Any]) -> PlatformVisit:
    """Read and validate the platform parameters (query string, form fields or JSON body).

    Other keys are ignored. Raises :class:`PlatformParameterError` for a malformed id, a
    ``turkSubmitTo`` that is not MTurk, or an accepted MTurk assignment without ``workerId``.
    """
    if _given(args, "PROLIFIC_PID"):
        ids = {k: _clean_id(k, args[k]) for k in PROLIFIC_KEYS if _given(args, k)}
        return PlatformVisit("prolific", ids)
    if _given(args, "assignmentId") or _given(args, "workerId"):
        ids = {k: _clean_id(k, args[k]) for k in ("workerId", "assignmentId", "hitId")
               if _given(args, k)}
        submit_to = args.get("turkSubmitTo")
        submit_to = submit_to.rstrip("/") if isinstance(submit_to, str) else ""
        if submit_to:
            if submit_to not in MTURK_SUBMIT_ORIGINS:
                raise PlatformParameterError(
                    f"turkSubmitTo must be one of {', '.join(MTURK_SUBMIT_ORIGINS)}; "
                    "open the HIT from MTurk")
            ids["turkSubmitTo"] = submit_to
        visit = PlatformVisit("mturk", ids)
        if not visit.is_preview and not visit.main_id:
            raise PlatformParameterError("an accepted MTurk assignment must come with workerId")
        return visit
    return PlatformVisit()


def platform_id_key(config: Mapping[str, Any]) -> bytes:
    """The HMAC key of platform ids for a server configuration (a Flask ``app.config``, or
    what :func:`xai_eval.web.app.server_config` resolves for the command line).

    ``ID_KEY`` (``XAI_EVAL_ID_KEY``) if set; else a key derived from ``SECRET_KEY``
    (``XAI_EVAL_SECRET_KEY``, or the server's generated ``secret_key`` file). Setting
    ``ID_KEY`` is better in production: the session secret can then be rotated without
    changing the hashes, which would let a returning person start a study again.
    """
    configured = config.get("ID_KEY")
    if configured:
        return str(configured).encode()
    secret = config.get("SECRET_KEY")
    if not secret:
        raise PlatformKeyError("no key to hash platform ids with: set XAI_EVAL_ID_KEY (or "
                               "XAI_EVAL_SECRET_KEY) as for `xai-eval serve`")
    return hashlib.sha256(_DERIVED_KEY_PREFIX + str(secret).encode()).digest()


def hash_platform_id(value: str, salt: str, key: bytes) -> str:
    """HMAC-SHA256(key, salt + ':' + value) as hex."""
    return hmac.new(key, f"{salt}:{value}".encode(), hashlib.sha256).hexdigest()
