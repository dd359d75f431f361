"""The server's own files live outside the source tree (issue 8: instance/secret_key used to
be written into the checkout, where `git add -A` committed it)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from flask import Flask

from xai_eval.web.app import create_app, server_config
from xai_eval.web.instance import SECRET_FILE, user_data_dir

REPO = Path(__file__).resolve().parents[2]


def test_default_instance_folder_is_the_user_data_folder(db_url, monkeypatch, tmp_path):
    monkeypatch.delenv("XAI_EVAL_INSTANCE_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    app = create_app({"DATABASE_URL": db_url, "TESTING": True})
    assert Path(app.instance_path) == tmp_path / "data" / "xai-eval" == user_data_dir()
    assert (tmp_path / "data" / "xai-eval" / SECRET_FILE).exists()
    assert not Path(app.instance_path).resolve().is_relative_to(REPO)


def test_instance_dir_setting_and_the_cli_agree(db_url, monkeypatch, tmp_path):
    monkeypatch.setenv("XAI_EVAL_INSTANCE_DIR", str(tmp_path / "here"))
    monkeypatch.delenv("XAI_EVAL_SECRET_KEY", raising=False)
    app = create_app({"DATABASE_URL": db_url, "TESTING": True,
                      "INSTANCE_DIR": str(tmp_path / "here")})
    key = (tmp_path / "here" / SECRET_FILE).read_text()
    assert app.config["SECRET_KEY"] == key
    assert server_config()["SECRET_KEY"] == key


def test_a_legacy_in_tree_secret_is_adopted(db_url, monkeypatch, tmp_path):
    legacy = tmp_path / "checkout" / "instance"
    legacy.mkdir(parents=True)
    (legacy / SECRET_FILE).write_text("old-secret")
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(legacy))
    app = create_app({"DATABASE_URL": db_url, "TESTING": True,
                      "INSTANCE_DIR": str(tmp_path / "new")})
    assert app.config["SECRET_KEY"] == "old-secret"  # sessions and id hashes stay valid
    assert (tmp_path / "new" / SECRET_FILE).stat().st_mode & 0o777 == 0o600


def test_instance_folder_is_git_ignored():
    result = subprocess.run(["git", "check-ignore", "-q", "instance/secret_key"], cwd=REPO)
    assert result.returncode == 0
