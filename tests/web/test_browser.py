"""A participant and an admin in a real browser (Debian chromium driven by Playwright).

The app runs under waitress on a free loopback port in a thread; the participant goes
through consent, instructions, a practice trial with feedback and the trials, reloads the
page mid-study and must land on the same trial, finishes with a completion code; then an
admin logs in and downloads the CSV, whose rows must be exactly the stored answers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser_support import BROWSER_MARKS, chromium, serving
from tests.web.conftest import ADMIN_PASSWORD, ADMIN_USER, migrated

pytestmark = BROWSER_MARKS


@pytest.fixture
def live_server(sqlite_url: str, tmp_path) -> Iterator[str]:
    from xai_eval.web.app import create_app

    migrated(sqlite_url, slug="sample", images=6, trials=4, practice=1, attention=1,
             min_median_rt_ms=0)
    # production settings (Secure cookies): chromium treats 127.0.0.1 as a secure origin
    app = create_app({"DATABASE_URL": sqlite_url, "SECRET_KEY": "browser-test"})
    app.instance_path = str(tmp_path)
    with serving(app) as url:
        yield url


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


def _current_picture(page) -> str:
    page.wait_for_selector("#options button:not([disabled])")
    return page.get_attribute("#stimuli img", "src")


def _choice(page) -> str:
    """Selector of the first option, or of the instructed one on an attention check."""
    page.wait_for_selector("#options button:not([disabled])")
    question = page.inner_text("#question")
    if "attention check" in question:
        wanted = question.split("“")[1].split("”")[0]
        return f"#options button:text-is('{wanted}')"
    return "#options button >> nth=0"


def _answer_first_option(page) -> None:
    page.click(_choice(page))


def test_participant_takes_the_study_and_admin_downloads_csv(live_server, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server}/study/sample/?PROLIFIC_PID=browser-1&STUDY_ID=s1&SESSION_ID=x1")
    assert "Consent" in page.content()
    page.check("#consent-box")
    page.click("#consent-submit")
    page.wait_for_selector("#instructions:not([hidden])")
    page.click("#begin")

    # practice: answer, see feedback from the server, continue
    page.wait_for_selector("#options button:not([disabled])")
    assert page.inner_text("#phase").startswith("Practice")
    _answer_first_option(page)
    page.wait_for_selector("#feedback:not([hidden])")
    assert page.inner_text("#feedback-text")
    page.click("#continue")

    # first main trial: screenshot, answer; then reload on the next one and resume there
    first_main = _current_picture(page)
    assert page.inner_text("#phase") == ""
    page.screenshot(path=str(tmp_path / "trial.png"), full_page=True)
    _answer_first_option(page)
    page.wait_for_function("src => document.querySelector('#stimuli img') && "
                           "document.querySelector('#stimuli img').getAttribute('src') !== src",
                           arg=first_main)
    before_reload = _current_picture(page)
    question_before = page.inner_text("#question")
    page.reload()
    assert _current_picture(page) == before_reload
    assert page.inner_text("#question") == question_before
    # the back button also lands on the server's current trial
    page.go_back()
    page.goto(f"{live_server}/study/sample/run")
    assert _current_picture(page) == before_reload

    # a dropped connection while answering, with an impatient double click: the page
    # retries with the same trial id until the server is back; one answer is stored
    selector = _choice(page)
    context.set_offline(True)
    page.dblclick(selector)
    page.wait_for_function("() => document.getElementById('status').textContent"
                           ".includes('Connection problem')")
    assert page.get_attribute(selector, "disabled") is not None
    context.set_offline(False)
    page.wait_for_function("src => document.querySelector('#stimuli img') && "
                           "document.querySelector('#stimuli img').getAttribute('src') !== src"
                           " || location.pathname.endsWith('/done')", arg=before_reload)

    answered = 3
    while "/done" not in page.url:
        _answer_first_option(page)
        answered += 1
        page.wait_for_function(
            "() => location.pathname.endsWith('/done') || "
            "document.querySelector('#options button:not([disabled])')")
    code = page.inner_text("#completion-code")
    assert len(code) >= 6
    assert not [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e], errors
    context.close()

    admin = browser.new_context(accept_downloads=True)
    page = admin.new_page()
    page.goto(f"{live_server}/admin/")
    assert "/admin/login" in page.url
    page.fill("#username", ADMIN_USER)
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login")
    page.wait_for_url(f"{live_server}/admin/")
    page.click("text=Which object is explained?")
    page.wait_for_selector("#exclusion-rule")
    assert page.inner_text("#exclusions").count("no") >= 1  # passed the attention check
    assert page.is_visible("#results")
    page.screenshot(path=str(tmp_path / "admin.png"), full_page=True)
    with page.expect_download() as download_info:
        page.click("#export-csv")
    path = download_info.value.path()
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8"))))
    assert len(rows) == answered == 6
    assert {r["trial_kind"] for r in rows} == {"practice", "main", "attention"}
    assert all(int(r["rt_ms"]) > 0 for r in rows)
    assert len({r["participant_id"] for r in rows}) == 1
    assert sorted(int(r["order_index"]) for r in rows) == list(range(6))
    admin.close()
