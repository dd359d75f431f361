"""Crowd-platform parameters: what Prolific and MTurk append to the study URL, validated.

Prolific appends ``PROLIFIC_PID``, ``STUDY_ID`` and ``SESSION_ID`` and expects the
participant to come back to a completion URL carrying a code. MTurk's ExternalQuestion
appends ``workerId``, ``assignmentId`` (``ASSIGNMENT_ID_NOT_AVAILABLE`` while the worker only
previews the HIT), ``hitId`` and ``turkSubmitTo``, and expects a POST of the assignment to
``<turkSubmitTo>/mturk/externalSubmit``. ``turkSubmitTo`` comes from the URL, so anyone can
forge it: only MTurk's own two hosts are accepted, or the debrief page would post to
whatever site a crafted link named.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from xai_eval.web.security import MTURK_SUBMIT_ORIGINS

PROLIFIC_KEYS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")
MTURK_KEYS = ("workerId", "assignmentId", "hitId", "turkSubmitTo")
MTURK_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"
#: Platform ids are short opaque tokens; anything else is refused, not truncated.
_ID_PATTERN = re.compile(r"^[A-Za-z0-9_\-.:]{1,128}$")


class PlatformParameterError(ValueError):
    """A platform parameter in the URL is malformed."""


@dataclass(frozen=True)
class PlatformVisit:
    """Who sent the participant here and with which ids (plain values, hashed when stored)."""

    platform: str  # "prolific", "mturk" or "direct"
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def is_preview(self) -> bool:
        """MTurk preview: show the task, never start it (the worker has not accepted)."""
        return self.platform == "mturk" and self.ids.get("assignmentId") == MTURK_PREVIEW

    @property
    def main_id(self) -> str | None:
        """The id that makes a person unique on the platform (one attempt per study)."""
        if self.platform == "prolific":
            return self.ids.get("PROLIFIC_PID")
        if self.platform == "mturk":
            return self.ids.get("workerId")
        return None

    @property
    def mturk_submit_url(self) -> str | None:
        submit_to = self.ids.get("turkSubmitTo")
        return f"{submit_to}/mturk/externalSubmit" if submit_to else None


def _clean_id(name: str, value: str) -> str:
    value = value.strip()
    if not _ID_PATTERN.match(value):
        raise PlatformParameterError(
            f"URL parameter {name} is not a valid platform id (1-128 letters, digits, "
            "'-', '_', '.', ':'); open the study from the link the platform gave you")
    return value


def parse_visit(args: Mapping[str, str]) -> PlatformVisit:
    """Read the platform parameters from a query string (or the hidden consent-form fields)."""
    if args.get("PROLIFIC_PID"):
        ids = {k: _clean_id(k, args[k]) for k in PROLIFIC_KEYS if args.get(k)}
        return PlatformVisit("prolific", ids)
    if args.get("assignmentId") or args.get("workerId"):
        ids = {k: _clean_id(k, args[k]) for k in ("workerId", "assignmentId", "hitId")
               if args.get(k)}
        submit_to = (args.get("turkSubmitTo") or "").rstrip("/")
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
    return PlatformVisit("direct", {})
