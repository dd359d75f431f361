"""The CLI says what it did (issue 8): `db upgrade` names the revisions, `serve` and
`admin find-participant` take --instance-dir, `admin create` documents --password-stdin."""

from __future__ import annotations

from click.testing import CliRunner

from xai_eval.cli import main


def test_db_upgrade_names_what_it_applied(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = CliRunner().invoke(main, ["db", "upgrade", "--db", url])
    assert first.exit_code == 0, first.output
    assert "applied" in first.output and "0004_study_hardening" in first.output
    assert "heads" not in first.output
    again = CliRunner().invoke(main, ["db", "upgrade", "--db", url])
    assert again.exit_code == 0 and "is up to date" in again.output


def test_help_documents_the_options():
    serve = CliRunner().invoke(main, ["serve", "--help"]).output
    assert "--instance-dir" in serve
    find = CliRunner().invoke(main, ["admin", "find-participant", "--help"]).output
    assert "--instance-dir" in find
    create = CliRunner().invoke(main, ["admin", "create", "--help"]).output
    assert "--password-stdin" in create
