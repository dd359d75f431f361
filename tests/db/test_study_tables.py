"""The study tables round-trip every column on both backends; constraints hold."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy.exc import IntegrityError

from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.migrate import upgrade
from xai_eval.db.studies import (
    AdminUser,
    AuditLog,
    Item,
    Participant,
    Response,
    Stimulus,
    Study,
    TrialInstance,
)


@pytest.fixture
def factory(db_url):
    upgrade(db_url)
    engine = make_engine(db_url)
    yield session_factory(engine)
    engine.dispose()


def _graph(s):
    study = Study(slug="s", title="T", task="trust", definition={"parameters": {"a": 1}},
                  definition_hash="h" * 64, id_salt="salt")
    s.add(study)
    s.flush()
    stim = Stimulus(study_id=study.id, explainer="gradcam", model="gap", dataset="embedded",
                    image_id="img1", class_id=3, class_name="cat", options={"alpha": 0.5},
                    content_hash="c" * 64, data=b"\x89PNG\x00\xff", width=4, height=5)
    s.add(stim)
    s.flush()
    item = Item(study_id=study.id, key="k1", kind="main", condition="gradcam", image_id="img1",
                payload={"stimuli": {"main": stim.id}, "names": ["cat", "dög"]},
                answer_key={"correct": "cat"})
    p = Participant(study_id=study.id, token_hash="t" * 64, platform="prolific",
                    platform_id_hash="p" * 64, platform_ids={"PROLIFIC_PID": "x"})
    s.add_all([item, p])
    s.flush()
    trial = TrialInstance(public_id="pub1", participant_id=p.id, item_id=item.id, order_index=0,
                          kind="main", placement={"positions": {"center": "main"}})
    s.add(trial)
    s.flush()
    s.add(Response(participant_id=p.id, trial_id=trial.id, answer="dög", side_mapping={"a": 1},
                   correct=False, score=0.0, rt_ms=1234, is_practice=False,
                   is_attention_check=False))
    admin = AdminUser(username="root", password_hash="")
    admin.set_password("pw-123456")
    s.add_all([admin, AuditLog(actor="cli", action="x", study_id=study.id, details={"n": 1})])
    s.commit()
    return study.id


def test_round_trip(factory):
    with factory() as s:
        study_id = _graph(s)
    with factory() as s:
        study = s.get(Study, study_id)
        assert study.parameters == {"a": 1} and study.status == "open"
        assert study.created_at.replace(tzinfo=study.created_at.tzinfo or timezone.utc) <= (
            datetime.now(timezone.utc))
        item = study.items[0]
        assert item.payload["names"] == ["cat", "dög"]
        stim = s.get(Stimulus, item.payload["stimuli"]["main"])
        assert stim.data == b"\x89PNG\x00\xff" and stim.options == {"alpha": 0.5}
        p = s.query(Participant).one()
        trial = p.trials[0]
        assert trial.item.key == "k1" and trial.response.answer == "dög"
        assert trial.response.rt_ms == 1234 and trial.response.correct is False
        admin = s.query(AdminUser).one()
        assert admin.check_password("pw-123456") and not admin.check_password("nope")


def test_second_response_for_a_trial_is_refused_by_the_database(factory):
    with factory() as s:
        _graph(s)
        trial = s.query(TrialInstance).one()
        s.add(Response(participant_id=trial.participant_id, trial_id=trial.id, answer="cat",
                       side_mapping={}, rt_ms=1))
        with pytest.raises(IntegrityError):
            s.commit()


def test_platform_id_is_unique_per_study(factory):
    with factory() as s:
        study_id = _graph(s)
        s.add(Participant(study_id=study_id, token_hash="u" * 64, platform="prolific",
                          platform_id_hash="p" * 64, platform_ids={}))
        with pytest.raises(IntegrityError):
            s.commit()


def test_deleting_a_study_cascades(factory):
    with factory() as s:
        study_id = _graph(s)
        s.delete(s.get(Study, study_id))
        s.commit()
        for model in (Stimulus, Item, Participant, TrialInstance, Response):
            assert s.query(model).count() == 0
