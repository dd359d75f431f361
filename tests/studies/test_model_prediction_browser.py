"""The model-prediction study in a real browser (Debian chromium driven by Playwright).

Two participants on a study with one explainer and the control: balanced assignment gives
the second one the other condition, so both conditions are taken end to end — one at a
desktop size (1280x800), one at a phone size (390x844): consent, instructions, training
examples (photo + decision, + the map in the explainer condition), test trials with no
explanation, an attention check, the completion code. Screenshots are written to
``$XAI_EVAL_SCREENSHOTS`` when set (to look at them), else to the test's tmp folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.browser_support import BROWSER_MARKS, chromium, serving
from tests.studies.conftest import write_definition

pytestmark = BROWSER_MARKS
SLUG = "test_model_prediction"
SIZES = [("desktop", 1280, 800), ("phone", 390, 844)]


@pytest.fixture
def live_server(sqlite_url, tmp_path, fake_dataset, fake_models) -> Iterator[str]:
    from xai_eval.studies.build import build_study
    from xai_eval.web.app import create_app

    path = write_definition(tmp_path / "mp.yaml", "model_prediction", **{
        "classes": ["red", "green", "blue"], "model": "weak", "scenario": "all",
        "training_items": 3, "test_items": 3, "trials_per_participant": 3,
        "practice_trials": 3, "attention_checks": 1,
        "practice_note": "The first 3 screens are examples: study them and click Next."})
    data = yaml.safe_load(path.read_text())
    data["explainers"] = [{"name": "guided_backprop"}]
    data["render"] = {"size": 224}
    data["instructions"] = "Learn what the model decides, then predict it for new photos."
    path.write_text(yaml.safe_dump(data))
    build_study(path, sqlite_url, dataset=fake_dataset, models=fake_models)
    app = create_app({"DATABASE_URL": sqlite_url, "SECRET_KEY": "browser-test"})
    app.instance_path = str(tmp_path)
    with serving(app) as url:
        yield url


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


def _ready(page) -> None:
    page.wait_for_selector("#options button:not([disabled])")


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def _take(page, base: str, name: str, shots: Path) -> str:
    page.goto(f"{base}/study/{SLUG}/?PROLIFIC_PID={name}-1&STUDY_ID=s1&SESSION_ID={name}")
    page.check("#consent-box")
    page.click("#consent-submit")
    page.wait_for_selector("#instructions:not([hidden])")
    assert "The first 3 screens are examples" in page.inner_text("#instructions")
    page.click("#begin")
    pictures = []
    for number in range(3):  # the training phase
        _ready(page)
        assert page.inner_text("#phase") == "Training."
        assert page.inner_text("#options") == "Next example"
        captions = page.locator("#stimuli figcaption").all_inner_texts()
        assert captions[0].startswith("The model decided: ")
        pictures.append(page.locator("#stimuli img").count())
        if number == 0:
            page.screenshot(path=str(shots / f"{name}-training.png"), full_page=True)
            assert _fits(page), "the training screen overflows horizontally"
        page.click("#options button")
        page.wait_for_function("n => document.querySelector('#progress-text').textContent"
                               ".startsWith('Question ' + (n + 2))", arg=number)
    assert len(set(pictures)) == 1
    condition = "explained" if pictures[0] == 2 else "control"
    tests = 0
    while "/done" not in page.url:
        _ready(page)
        question = page.inner_text("#question")
        if "attention check" in question:
            wanted = question.split("“")[1].split("”")[0]
            page.click(f"#options button:text-is('{wanted}')")
        else:
            assert page.inner_text("#phase") == "Test."
            assert page.locator("#stimuli img").count() == 1  # no explanation in the test
            assert page.locator("#options button").count() == 3
            if tests == 0:
                page.screenshot(path=str(shots / f"{name}-test.png"), full_page=True)
                assert _fits(page), "the test screen overflows horizontally"
            tests += 1
            page.click("#options button >> nth=0")
        page.wait_for_function("() => location.pathname.endsWith('/done') || "
                               "document.querySelector('#options button:not([disabled])')")
    assert tests == 3
    assert len(page.inner_text("#completion-code")) >= 6
    page.screenshot(path=str(shots / f"{name}-done.png"), full_page=True)
    return condition


def test_both_conditions_at_desktop_and_phone_sizes(live_server, browser, tmp_path):
    shots = Path(os.environ.get("XAI_EVAL_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    conditions = []
    for name, width, height in SIZES:
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
        conditions.append(_take(page, live_server, name, shots))
        assert not errors, errors
        context.close()
    assert sorted(conditions) == ["control", "explained"]
