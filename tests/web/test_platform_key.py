"""The CLI hashes a platform id exactly as the app does, for the same configuration.

The app hashes a Prolific PID at enrolment with ``platform_id_key(app.config)``;
``xai-eval admin find-participant`` hashes the id it is given with ``platform_id_key`` of
``server_config()`` (the configuration ``xai-eval serve`` resolves). Finding the
participant is the proof that both hashes are equal; a different key must find nobody.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from tests.web.conftest import Participant, migrated
from xai_eval.cli import main
from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.studies import Participant as ParticipantRow
from xai_eval.db.studies import Study
from xai_eval.studies.platform import hash_platform_id, platform_id_key
from xai_eval.web.app import create_app, server_config

PID = "5f1a2b3c4d"
KEY_VARIABLES = ("XAI_EVAL_ID_KEY", "XAI_EVAL_SECRET_KEY", "XAI_EVAL_DATABASE_URL")


@pytest.fixture
def server_env(db_url, tmp_path, monkeypatch):
    """A migrated database with the sample study, an environment without keys, and the
    app's instance folder (where a generated secret key lives) in ``tmp_path``."""
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XAI_EVAL_DATABASE_URL", db_url)
    monkeypatch.setenv("XAI_EVAL_TESTING", "true")  # plain-HTTP cookies for the test client
    monkeypatch.setenv("XAI_EVAL_INSTANCE_DIR", str(tmp_path / "instance"))
    # the old in-tree location, where an earlier version kept the key
    monkeypatch.setattr(Flask, "auto_find_instance_path",
                        lambda self: str(tmp_path / "legacy-instance"))
    migrated(db_url, slug="sample", images=6, trials=4, practice=1, attention=1,
             min_median_rt_ms=0)
    return monkeypatch


def _enrol_through_the_app() -> tuple[int, bytes]:
    """Start a Prolific participant in an app configured from the environment."""
    app = create_app()
    try:
        started = Participant(app).start(PROLIFIC_PID=PID, STUDY_ID="s", SESSION_ID="x")
        assert started.status_code == 201, started.get_data(as_text=True)
        engine = make_engine(app.config["DATABASE_URL"])
        with session_factory(engine)() as session:
            row = session.scalars(select(ParticipantRow)).one()
            salt = session.scalars(select(Study.id_salt)).one()
            # the stored hash is the platform module's hash with the app's key
            assert row.platform_id_hash == hash_platform_id(PID, salt,
                                                            platform_id_key(app.config))
            participant_id = row.id
        engine.dispose()
        return participant_id, platform_id_key(app.config)
    finally:
        from xai_eval.web.database import binding

        binding(app).engine.dispose()


def _find(*extra: str):
    return CliRunner().invoke(main, ["admin", "find-participant", "sample", PID, "--json",
                                     *extra])


@pytest.mark.parametrize("variable", ["XAI_EVAL_SECRET_KEY", "XAI_EVAL_ID_KEY"])
def test_cli_finds_the_participant_the_app_enrolled(server_env, variable):
    server_env.setenv(variable, "the-server-key")
    participant_id, app_key = _enrol_through_the_app()
    assert platform_id_key(server_config()) == app_key
    found = _find()
    assert found.exit_code == 0, found.output
    summary = json.loads(found.output)
    assert summary["participant_id"] == participant_id
    assert summary["platform"] == "prolific" and summary["status"] == "started"
    assert PID not in found.output
    # another key (a server configured differently) hashes differently: nobody found
    server_env.setenv("XAI_EVAL_ID_KEY", "another-key")
    assert _find().exit_code == 1


def test_id_key_wins_over_the_secret_key(server_env):
    server_env.setenv("XAI_EVAL_ID_KEY", "stable-id-key")
    server_env.setenv("XAI_EVAL_SECRET_KEY", "session-secret-1")
    participant_id, _ = _enrol_through_the_app()
    # rotating the session secret keeps the hashes (and so the once-per-person rule)
    server_env.setenv("XAI_EVAL_SECRET_KEY", "session-secret-2")
    found = _find()
    assert found.exit_code == 0 and json.loads(found.output)["participant_id"] == participant_id


def test_cli_uses_the_generated_instance_secret_like_the_server(server_env, tmp_path):
    # no key in the environment: the app generates instance/secret_key and derives from it
    participant_id, app_key = _enrol_through_the_app()
    assert (tmp_path / "instance" / "secret_key").exists()
    assert platform_id_key(server_config()) == app_key
    found = _find()
    assert found.exit_code == 0 and json.loads(found.output)["participant_id"] == participant_id


def test_cli_without_any_key_says_which_variable_to_set(server_env, tmp_path):
    result = _find()
    assert result.exit_code != 0 and "XAI_EVAL_ID_KEY" in result.output
    assert not (tmp_path / "instance" / "secret_key").exists()  # the CLI creates no key


def test_lookup_is_audited_and_unknown_study_is_an_error(server_env, db_url):
    server_env.setenv("XAI_EVAL_ID_KEY", "k")
    _enrol_through_the_app()
    assert _find().exit_code == 0
    missing = CliRunner().invoke(main, ["admin", "find-participant", "nope", PID])
    assert missing.exit_code != 0 and "no study named 'nope'" in missing.output
    from xai_eval.db.studies import AuditLog

    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        rows = session.scalars(select(AuditLog).where(
            AuditLog.action == "participant_lookup")).all()
        assert [(r.actor, r.details) for r in rows] == [("cli", {"found": True})]
    engine.dispose()
