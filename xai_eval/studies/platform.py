"""Crowd-platform parameters (Prolific, MTurk) and how their ids are stored (keyed hashes).

Prolific appends ``PROLIFIC_PID``, ``STUDY_ID`` and ``SESSION_ID`` to the study URL; MTurk's
ExternalQuestion passes ``workerId``, ``assignmentId`` (``ASSIGNMENT_ID_NOT_AVAILABLE`` in
preview), ``hitId`` and ``turkSubmitTo``. The worker's id is what makes "take a study once"
enforceable, but it is personal data: it is stored as HMAC-SHA256 keyed with the server key
(``XAI_EVAL_ID_KEY`` or the ``id_key`` argument) and the study's random salt, so the raw id
cannot be recovered from the database alone and the same person hashes differently in
different studies.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ID_KEY_ENV = "XAI_EVAL_ID_KEY"
MTURK_PREVIEW = "ASSIGNMENT_ID_NOT_AVAILABLE"
PROLIFIC_KEYS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")
MTURK_KEYS = ("workerId", "assignmentId", "hitId", "turkSubmitTo")
#: longest platform parameter value kept (longer values are cut, not trusted)
MAX_ID_CHARS = 128


@dataclass(frozen=True)
class PlatformIds:
    """The platform a participant came from and the parameters it passed."""

    platform: str = "direct"  # "prolific" | "mturk" | "direct"
    ids: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_query(cls, args: Mapping[str, Any]) -> PlatformIds:
        """Read Prolific / MTurk parameters from a query string mapping (others ignored)."""
        def value(key: str) -> str | None:
            raw = args.get(key)
            if raw is None or str(raw).strip() == "":
                return None
            return str(raw).strip()[:MAX_ID_CHARS]

        if value("PROLIFIC_PID"):
            return cls("prolific", {k: v for k in PROLIFIC_KEYS if (v := value(k))})
        if value("workerId") or value("assignmentId"):
            return cls("mturk", {k: v for k in MTURK_KEYS if (v := value(k))})
        return cls()

    @property
    def main_id(self) -> str | None:
        """The id of the person (PROLIFIC_PID or workerId), if any."""
        key = {"prolific": "PROLIFIC_PID", "mturk": "workerId"}.get(self.platform)
        return self.ids.get(key) if key else None

    @property
    def preview(self) -> bool:
        """True on an MTurk preview, where nothing may be started."""
        return self.platform == "mturk" and (
            self.ids.get("assignmentId") == MTURK_PREVIEW or not self.ids.get("workerId"))

    def stored(self, salt: str, key: bytes | None, plain: bool = False) -> dict[str, str]:
        """The parameters as stored: hashed (default) or, if the study says so, plain.
        ``turkSubmitTo`` is a URL, not an id, and is kept as is."""
        if plain:
            return dict(self.ids)
        return {k: (v if k == "turkSubmitTo" else hash_platform_id(v, salt, key))
                for k, v in self.ids.items()}


def server_id_key(explicit: bytes | None = None) -> bytes:
    """The HMAC key: explicit, else ``XAI_EVAL_ID_KEY``, else empty (salt-only hashing)."""
    if explicit is not None:
        return explicit
    return os.environ.get(ID_KEY_ENV, "").encode()


def hash_platform_id(value: str, salt: str, key: bytes | None = None) -> str:
    """HMAC-SHA256(key, salt + ':' + value) as hex."""
    return hmac.new(server_id_key(key), f"{salt}:{value}".encode(), hashlib.sha256).hexdigest()
