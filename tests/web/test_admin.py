"""The admin area on both databases: results with statistics, exclusions, exports, audit."""

from __future__ import annotations

import csv
import io
import json

import pytest
from scipy.stats import binomtest
from sqlalchemy import select
from statsmodels.stats.proportion import proportion_confint

from tests.web.conftest import Participant
from tests.web.test_security import login
from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.studies import AuditLog


def take_study(participant: Participant, rt_ms: int = 900, pass_attention: bool = True,
               slug: str = "sample") -> int:
    """Answer every trial with the first option (attention checks as told, or not)."""
    assert participant.start(slug).status_code == 201
    count = 0
    while not (trial := participant.trial())["done"]:
        values = [o["value"] for o in trial["options"]]
        question = trial["question"]
        if "attention check" in question:
            wanted = question.split("“")[1].split("”")[0]
            value = wanted if pass_attention else next(v for v in values if v != wanted)
        else:
            value = values[0]
        response = participant.answer(trial["trial_id"], value, rt_ms)
        assert response.status_code == 201
        count += 1
    return count


def _audit_actions(db_url: str) -> list[str]:
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            return [row.action for row in session.scalars(select(AuditLog).order_by(AuditLog.id))]
    finally:
        engine.dispose()


@pytest.fixture
def admin(app):
    client = app.test_client()
    assert login(client).status_code == 302
    return client


def test_results_match_an_independent_computation(app, admin, db_url):
    for _ in range(3):
        take_study(Participant(app), )
    rows = json.loads(admin.get("/admin/studies/sample/export/responses.json").data)
    page = admin.get("/admin/studies/sample")
    assert page.status_code == 200
    results = json.loads(admin.get("/admin/studies/sample/export/results.json").data)
    assert {r["condition"] for r in results} <= {"guided_backprop", "guided_gradcam"}
    for result in results:
        mains = [r for r in rows if r["trial_kind"] == "main"
                 and r["condition"] == result["condition"]]
        k, n = sum(bool(r["correct"]) for r in mains), len(mains)
        low, high = proportion_confint(k, n, method="wilson")
        assert result["answers"] == n
        assert result["accuracy"] == pytest.approx(k / n)
        assert (result["ci_low"], result["ci_high"]) == pytest.approx((low, high))
        assert result["p_value"] == pytest.approx(binomtest(k, n, 0.5).pvalue)
        assert f"{100 * k / n:.2f}%".encode() in page.data
    assert b"Wilson" in page.data and b"Mann-Whitney" in page.data
    chart = admin.get("/admin/studies/sample/chart.png")
    assert chart.status_code == 200 and chart.data[:4] == b"\x89PNG"


def test_exclusions_show_the_rule_and_leave_participants_out(app, admin):
    take_study(Participant(app), pass_attention=True)
    take_study(Participant(app), pass_attention=False)
    page = admin.get("/admin/studies/sample").get_data(as_text=True)
    assert "passed fewer than 100% of the attention checks" in page
    assert "attention checks passed 0/1" in page
    assert "(1 of 2)" in page  # analysed: 1 of 2 completed


def test_csv_export_has_one_row_per_answer_and_is_audited(app, admin, db_url):
    answered = take_study(Participant(app), )
    response = admin.get("/admin/studies/sample/export/responses.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == answered
    assert "PROLIFIC_PID" not in response.get_data(as_text=True)
    admin.get("/admin/studies/sample/export/results.csv")
    actions = _audit_actions(db_url)
    assert actions.count("export") == 2


def test_status_change_is_audited_and_closes_the_study(app, admin, db_url):
    token = admin.get("/api/csrf").get_json()["csrf_token"]
    asked = admin.post("/admin/studies/sample/status",
                       data={"status": "closed", "csrf_token": token})
    assert asked.status_code == 200 and b"Yes, set closed" in asked.data
    assert "study_status" not in _audit_actions(db_url)  # nothing happens before confirming
    assert Participant(app).start().status_code == 201
    response = admin.post("/admin/studies/sample/status",
                          data={"status": "closed", "csrf_token": token, "confirm": "yes"})
    assert response.status_code == 302
    assert "study_status" in _audit_actions(db_url)
    assert Participant(app).start().status_code == 403
    bad = admin.post("/admin/studies/sample/status", data={"status": "gone", "csrf_token": token})
    assert bad.status_code == 400
    audit = admin.get("/admin/audit")
    assert audit.status_code == 200
    assert b'href="/admin/studies/sample">sample</a>' in audit.data  # the slug, not the id


def test_unknown_study_and_export_kind(admin):
    assert admin.get("/admin/studies/nope").status_code == 404
    assert admin.get("/admin/studies/sample/export/secrets.csv").status_code == 404
    assert admin.get("/admin/studies/sample/export/responses.xml").status_code == 404


def test_too_fast_participants_are_excluded(app, admin, db_url):
    from xai_eval.testing import create_sample_study

    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        create_sample_study(session, slug="strict", images=6, trials=4, practice=1,
                            attention=1, min_median_rt_ms=500)
    engine.dispose()
    take_study(Participant(app), rt_ms=120, slug="strict")
    page = admin.get("/admin/studies/strict").get_data(as_text=True)
    assert "median response time under 500 ms" in page
    assert "median response time 120 ms &lt; 500 ms" in page


def test_automatic_metrics_appear_beside_the_human_results(app, admin, db_url):
    from xai_eval.db.results import MetricResult, Run

    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        session.add(Run(id="r1", name="suite", config_hash="h", config={},
                        xai_eval_version="0"))
        session.flush()
        for image, value in (("a", 0.25), ("b", 0.75)):
            session.add(MetricResult(run_id="r1", model="vgg16", explainer="guided_gradcam",
                                     dataset="voc", metric="pointing_game", image_id=image,
                                     class_id=1, values={"value": value, "hit": True}))
        # another model and an explainer the study does not use are left out
        session.add(MetricResult(run_id="r1", model="resnet50", explainer="guided_gradcam",
                                 dataset="voc", metric="pointing_game", image_id="c",
                                 class_id=1, values={"value": 9.0}))
        session.add(MetricResult(run_id="r1", model="vgg16", explainer="occlusion",
                                 dataset="voc", metric="pointing_game", image_id="a",
                                 class_id=1, values={"value": 9.0}))
        session.commit()
    engine.dispose()
    page = admin.get("/admin/studies/sample").get_data(as_text=True)
    table = page.split('id="metrics"')[1].split("</table>")[0]
    assert "guided_gradcam" in table and "pointing_game" in table
    assert "0.5000" in table  # mean of 0.25 and 0.75; booleans are not averaged
    assert "occlusion" not in table and "resnet50" not in table and "9.0000" not in table
