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

from flask import current_app, request


def client_key() -> str:
    """A stable pseudonym of this request's client address."""
    secret = str(current_app.config.get("SECRET_KEY") or "").encode()
    address = (request.remote_addr or "unknown").encode()
    return hmac.new(secret, b"client:" + address, hashlib.sha256).hexdigest()[:40]
