"""What every browser test needs: the app under waitress on a free port, and Debian chromium.

One home for both so the browser tests of the web app and of each study task start the
server and the browser the same way (the brief's chromium flags live here only).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

#: Marks for a module of browser tests: skipped, with the fix named, where chromium is absent.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM),
                       reason=f"{CHROMIUM} is not installed (run `make system-deps`)"),
]


@contextlib.contextmanager
def serving(app: Any, threads: int = 4) -> Iterator[str]:
    """Serve ``app`` with waitress on a free loopback port in a thread; yield its base URL."""
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=threads)

    def serve() -> None:
        # closing the socket under select() at teardown raises OSError: a normal stop
        with contextlib.suppress(OSError):
            server.run()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=5)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
