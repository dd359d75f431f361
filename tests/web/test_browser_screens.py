"""The trust screen in a real browser (issue 8): both pictures side by side and the whole
5-point scale inside the viewport on a phone (390x844), a small phone (360x740) and a
desktop (1280x800); the scale is one ordered row. Set ``XAI_EVAL_SCREENSHOTS=DIR`` to keep
the screenshots (look at them when the layout changes)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser_support import BROWSER_MARKS, chromium, serving
from tests.web.conftest import migrated

pytestmark = BROWSER_MARKS
VIEWPORTS = [(390, 844), (360, 740), (1280, 800)]


@pytest.fixture(scope="module")
def trust_server(tmp_path_factory) -> Iterator[str]:
    from xai_eval.db.base import make_engine, session_factory
    from xai_eval.testing import create_sample_trust_study
    from xai_eval.web.app import create_app

    folder = tmp_path_factory.mktemp("trust-screens")
    url = f"sqlite:///{folder / 'screens.db'}"
    migrated(url, slug="sample", images=2, trials=1, practice=0, attention=0)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        create_sample_trust_study(session, slug="trust", images=4, trials=3)
    engine.dispose()
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "screens", "INSTANCE_DIR": str(folder),
                      "ENROL_LIMIT_PER_CLIENT": 0})
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def _inside(box: dict, width: int, height: int) -> bool:
    return (box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= width + 0.5
            and box["y"] + box["height"] <= height + 0.5)


def _shoot(page, name: str) -> None:
    folder = os.environ.get("XAI_EVAL_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_trust_pictures_and_scale_fit_the_viewport(trust_server, browser, viewport):
    width, height = viewport
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(f"{trust_server}/study/trust/")
    _shoot(page, f"consent-{width}x{height}")
    page.check("#consent-box")
    page.click("#consent-submit")
    page.wait_for_selector("#instructions:not([hidden])")
    _shoot(page, f"instructions-{width}x{height}")
    page.click("#begin")
    page.wait_for_selector("#options button:not([disabled])")
    page.wait_for_function("() => [...document.querySelectorAll('#stimuli img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    _shoot(page, f"trust-{width}x{height}")
    scroll = page.evaluate("() => [window.scrollX, window.scrollY, "
                           "document.documentElement.scrollWidth]")
    assert scroll[:2] == [0, 0] and scroll[2] <= width, "the page must not need scrolling"

    pictures = [page.locator("#stimuli img").nth(i).bounding_box() for i in range(2)]
    captions = page.locator("#stimuli figcaption").all_inner_texts()
    assert all(_inside(b, width, height) for b in pictures), pictures
    left, right = pictures
    assert left["x"] + left["width"] <= right["x"], "pictures must be side by side"
    assert abs(left["y"] - right["y"]) < 1
    assert min(left["width"], right["width"]) >= 140, "pictures too small to judge"
    assert captions[0].startswith("Model 1 (left)") and captions[1].startswith("Model 2 (right)")

    buttons = page.locator("#options button")
    assert buttons.count() == 5
    boxes = [buttons.nth(i).bounding_box() for i in range(5)]
    assert all(_inside(b, width, height) for b in boxes), boxes
    assert len({round(b["y"]) for b in boxes}) == 1, "the scale must be one row"
    assert [b["x"] for b in boxes] == sorted(b["x"] for b in boxes)
    values = [int(v) for v in buttons.evaluate_all("bs => bs.map(b => b.dataset.value)")]
    assert values == [2, 1, 0, -1, -2]  # Model 1 (left) more reliable ... Model 2 (right)
    labels = page.locator("#scale-ends").inner_text()
    assert "Model 1 (left)" in labels and "Model 2 (right)" in labels
    question = page.inner_text("#question")
    assert "Model 1 (left)" in question and "Model 2 (right)" in question
    context.close()


def test_admin_pages_fit_a_phone(trust_server, browser):
    """Tables scroll inside their box instead of widening the page at 390 px."""
    from tests.web.conftest import ADMIN_PASSWORD, ADMIN_USER

    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{trust_server}/admin/login")
    page.fill("#username", ADMIN_USER)
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login")
    page.wait_for_url(f"{trust_server}/admin/")
    for path in ("/admin/", "/admin/studies/sample", "/admin/audit"):
        page.goto(f"{trust_server}{path}")
        _shoot(page, "admin" + path.replace("/", "-"))
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide at 390 px"
    context.close()
