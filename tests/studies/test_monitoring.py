"""Admin side: progress, exclusions with their rule, audited exports, admin accounts."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from xai_eval.db.studies import AdminUser, AuditLog
from xai_eval.studies import admin_service
from xai_eval.studies import participant_service as service
from xai_eval.studies.admin_service import EXPORT_COLUMNS
from xai_eval.studies.errors import StudyError
from xai_eval.studies.platform import PlatformVisit, parse_visit


def _participant(factory, slug, rt, attentive=True):
    with factory() as s:
        started = service.start_or_resume(s, service.get_study(s, slug), PlatformVisit())
    while True:
        with factory() as s:
            view = service.next_trial(s, started.token)
            if isinstance(view, service.Finished):
                return started
            answer = view.options[0].value
            if "attention check" in view.question:
                wanted = view.question.split("“")[1].rstrip("”.")
                right = next(o.value for o in view.options if o.label == wanted)
                wrong = next(o.value for o in view.options if o.label != wanted)
                answer = right if attentive else wrong
            service.submit_answer(s, started.token, view.trial_id, answer, rt)


def test_progress_and_exclusions(study_db):
    factory, slug = study_db
    good = _participant(factory, slug, rt=1500)
    fast = _participant(factory, slug, rt=100)
    careless = _participant(factory, slug, rt=1500, attentive=False)
    with factory() as s:
        study = service.get_study(s, slug)
        service.start_or_resume(s, study, PlatformVisit())  # one still running
        progress = admin_service.progress(s, study)
        assert progress.participants == {"completed": 3, "started": 1}
        assert progress.responses == 18 and progress.main_items == 10
        assert progress.ratings_per_item_max - progress.ratings_per_item_min <= 1
        rules = admin_service.ExclusionRules.from_study(study)
        assert "attention" in rules.describe() and "500 ms" in rules.describe()
        result = {e.participant_id: e for e in admin_service.exclusions(s, study, rules)}
    assert set(result) == {good.participant_id, fast.participant_id, careless.participant_id}
    assert not result[good.participant_id].excluded
    assert result[fast.participant_id].reasons == ["median response time 100 ms < 500 ms"]
    assert result[careless.participant_id].reasons == ["attention checks passed 0/1"]


def test_export_is_audited_and_has_no_platform_ids(study_db):
    factory, slug = study_db
    with factory() as s:
        study = service.get_study(s, slug)
        service.start_or_resume(s, study, parse_visit({"PROLIFIC_PID": "PID123"}),
                                id_key=b"test-id-key")
    _participant(factory, slug, rt=1200)
    with factory() as s:
        study = service.get_study(s, slug)
        rows = admin_service.export_responses(s, study, "alice", "csv")
        assert rows and set(rows[0]) == set(EXPORT_COLUMNS)
        assert "PID123" not in str(rows)
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "export")).one()
        assert (audit.actor, audit.details) == ("alice", {"format": "csv", "rows": 6})


def test_status_changes_are_audited_and_validated(study_db):
    factory, slug = study_db
    with factory() as s:
        study = service.get_study(s, slug)
        admin_service.set_study_status(s, study, "paused", "bob")
        with pytest.raises(StudyError, match="unknown study status"):
            admin_service.set_study_status(s, study, "deleted", "bob")
        row = s.scalars(select(AuditLog).where(AuditLog.action == "study_status")).one()
        assert row.details == {"from": "open", "to": "paused"} and row.actor == "bob"


def test_admin_accounts(study_db):
    factory, _ = study_db
    with factory() as s:
        user = admin_service.create_admin(s, "admin", "correct horse")
        assert "correct horse" not in user.password_hash
        assert admin_service.authenticate_admin(s, "admin", "correct horse") is not None
        assert admin_service.authenticate_admin(s, "admin", "wrong") is None
        assert admin_service.authenticate_admin(s, "nobody", "x") is None
        with pytest.raises(StudyError, match="at least 8"):
            admin_service.create_admin(s, "short", "abc")
        admin_service.create_admin(s, "admin", "another password")  # reset
        assert len(s.scalars(select(AdminUser)).all()) == 1
        actions = [a.action for a in s.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions[-5:] == ["admin_create", "admin_login", "admin_login_failed",
                            "admin_login_failed", "admin_password_reset"]
