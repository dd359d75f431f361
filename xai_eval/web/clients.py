"""Which client a request comes from, for the throttles, without storing its address.

The login and enrolment throttles count per client (:mod:`xai_eval.studies.throttle`). A
plain SHA-256 of an IPv4 address is reversible by trying all 2^32, and the shipped consent
texts promise that no IP addresses are stored, so the key is an HMAC of the address under
the app's secret key: the same in every server process of one deployment, meaningless
without the key. Behind a reverse proxy run ``xai-eval serve --trusted-proxy ADDR`` so the
address is the participant's, not the proxy's.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import current_app, request


def client_key() -> str:
    """A stable pseudonym of this request's client address."""
    return pseudonym(current_app.config.get("SECRET_KEY"), request.remote_addr)


def pseudonym(secret: object, address: str | None) -> str:
    """HMAC-SHA256 of ``address`` under ``secret`` (hex, 40 characters)."""
    key = str(secret or "").encode()
    return hmac.new(key, b"client:" + (address or "unknown").encode(),
                    hashlib.sha256).hexdigest()[:40]


def environ_client_key(config: Any) -> Any:
    """``client_key`` for a raw WSGI environ (the login gate runs before Flask)."""

    def key(environ: dict[str, Any]) -> str:
        return pseudonym(config.get("SECRET_KEY"), environ.get("REMOTE_ADDR"))

    return key
