"""A blocked client's logins are refused before Flask runs: the flood costs almost nothing.

The database is the authority on blocks (:mod:`xai_eval.studies.throttle`, shared by all
server processes). Answering a blocked login through the whole app still costs a session
cookie, a CSRF check, two queries and a page per request, and a flood of such requests
(50 clients hammering, measured with ``benchmarks/study_load.py --login-flood 50``) queued
in front of the participants' requests in waitress's task queue. So each server process
remembers the client blocks the database told it about (:meth:`LoginGate.remember`) and
this WSGI middleware answers ``POST /admin/login`` from such a client with 429 and
``Retry-After`` at once, without reading the database. It can only refuse early what the
database already refused; when the block ends the request goes through to the app again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

#: Remembered blocks (client keys) per process; expired ones are dropped beyond this.
MAX_ENTRIES = 10_000
HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store"),
           ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
           ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")]


class LoginGate:
    """Client keys blocked from logging in, with when their block ends (monotonic time)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def remember(self, client: str, seconds: float) -> None:
        with self._lock:
            if len(self._until) >= MAX_ENTRIES:
                now = time.monotonic()
                self._until = {k: v for k, v in self._until.items() if v > now}
            self._until[client] = time.monotonic() + seconds

    def retry_after(self, client: str) -> int:
        """Seconds ``client`` is known to be blocked (0: ask the app)."""
        with self._lock:
            until = self._until.get(client)
        left = until - time.monotonic() if until is not None else 0.0
        return max(0, math.ceil(left))


def middleware(wsgi_app: Callable[..., Iterable[bytes]], gate: LoginGate,
               client_of: Callable[[dict[str, Any]], str], path: str = "/admin/login"
               ) -> Callable[..., Iterable[bytes]]:
    """Wrap ``wsgi_app`` so a known-blocked client's ``POST path`` gets 429 at once."""

    def gated(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == path:
            wait = gate.retry_after(client_of(environ))
            if wait:
                body = f"Too many failed logins; try again in {wait} s.\n".encode()
                start_response("429 Too Many Requests", [
                    *HEADERS, ("Retry-After", str(wait)), ("Content-Length", str(len(body)))])
                return [body]
        return wsgi_app(environ, start_response)

    return gated
