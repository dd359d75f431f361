"""The CLI of the study area: db upgrade, admin create, serve --help, study group."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from xai_eval.cli import main
from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.studies import AdminUser


def test_db_upgrade_then_admin_create_stores_a_hash(db_url):
    runner = CliRunner()
    upgraded = runner.invoke(main, ["db", "upgrade", "--db", db_url])
    assert upgraded.exit_code == 0, upgraded.output
    created = runner.invoke(main, ["admin", "create", "alice", "--db", db_url,
                                   "--password-stdin"], input="a long passphrase\n")
    assert created.exit_code == 0, created.output
    assert "created" in created.output
    updated = runner.invoke(main, ["admin", "create", "alice", "--db", db_url,
                                   "--password-stdin"], input="another passphrase\n")
    assert "password updated" in updated.output
    engine = make_engine(db_url)
    with session_factory(engine)() as session:
        user = session.scalars(select(AdminUser).where(AdminUser.username == "alice")).one()
        assert "another passphrase" not in user.password_hash
        assert user.check_password("another passphrase")
        assert not user.check_password("a long passphrase")
    engine.dispose()


def test_admin_create_explains_short_passwords_and_missing_schema(sqlite_url):
    runner = CliRunner()
    missing = runner.invoke(main, ["admin", "create", "bob", "--db", sqlite_url,
                                   "--password-stdin"], input="a long passphrase\n")
    assert missing.exit_code != 0 and "xai-eval db upgrade" in missing.output
    runner.invoke(main, ["db", "upgrade", "--db", sqlite_url])
    short = runner.invoke(main, ["admin", "create", "bob", "--db", sqlite_url,
                                 "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "password" in short.output


def test_unreachable_database_is_a_clear_error():
    result = CliRunner().invoke(main, ["db", "upgrade", "--db",
                                       "postgresql+psycopg://nobody@127.0.0.1:1/none"])
    assert result.exit_code != 0
    assert "cannot connect to the database" in result.output


def test_help_texts():
    runner = CliRunner()
    for args in (["serve", "--help"], ["db", "upgrade", "--help"], ["admin", "create", "--help"],
                 ["admin", "find-participant", "--help"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0 and "--db" in result.output, args
    assert "waitress" in runner.invoke(main, ["serve", "--help"]).output
