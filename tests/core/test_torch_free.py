"""The core imports no torch: ``import xai_eval``, the hook specs, the database layer, the
Flask app factory and the ``--help`` of the commands start without it.

Each case runs in a fresh interpreter (this test process has torch loaded already) and
fails with the chain of modules that pulled torch in, so a regression names its culprit.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

#: Prints which module first imported torch (the importer is the frame below ``import``).
PROBE = r"""
import builtins, sys
_real = builtins.__import__
culprit = []
def _spy(name, globals=None, locals=None, fromlist=(), level=0):
    if (name == "torch" or name.startswith("torch.")) and not culprit and "torch" not in sys.modules:
        culprit.append((globals or {}).get("__name__", "?"))
    return _real(name, globals, locals, fromlist, level)
builtins.__import__ = _spy
try:
    {body}
finally:
    builtins.__import__ = _real
    if "torch" in sys.modules:
        print("TORCH-IMPORTED-BY", culprit[0] if culprit else "?")
    else:
        print("NO-TORCH")
"""

IMPORTS = [
    "xai_eval",
    "xai_eval.hookspecs",
    "xai_eval.errors",
    "xai_eval.plugins",
    "xai_eval.api",
    "xai_eval.db",
    "xai_eval.db.base",
    "xai_eval.db.results",
    "xai_eval.db.studies",
    "xai_eval.web.app",
    "xai_eval.cli",
]


def _run(body: str, tmp_path: Path) -> str:
    script = PROBE.replace("{body}", body.replace("\n", "\n    "))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("module", IMPORTS)
def test_import_loads_no_torch(module: str, tmp_path: Path) -> None:
    assert _run(f"import {module}", tmp_path) == "NO-TORCH"


def test_app_factory_builds_an_app_without_torch(tmp_path: Path) -> None:
    body = ("from xai_eval.web.app import create_app\n"
            f"create_app({{'DATABASE_URL': 'sqlite:///{tmp_path / 'x.db'}', "
            "'SECRET_KEY': 'k', 'TESTING': True})")
    assert _run(body, tmp_path) == "NO-TORCH"


@pytest.mark.parametrize("args", [["--help"], ["plugins", "--help"], ["serve", "--help"],
                                  ["db", "--help"], ["study", "--help"], ["admin", "--help"],
                                  ["run", "--help"], ["demo", "--help"], ["explain", "--help"],
                                  ["gapify", "--help"]])
def test_command_help_loads_no_torch(args: list[str], tmp_path: Path) -> None:
    """The installed console script's own entry point, as a user runs it."""
    body = ("import sys\n"
            "from importlib.metadata import entry_points\n"
            "main = entry_points(group='console_scripts')['xai-eval'].load()\n"
            f"sys.argv = ['xai-eval', *{args!r}]\n"
            "try:\n"
            "    main()\n"
            "except SystemExit as exc:\n"
            "    assert not exc.code, exc.code")
    assert _run(body, tmp_path) == "NO-TORCH"


def test_probe_detects_torch(tmp_path: Path) -> None:
    """The probe itself: an import that does load torch is reported, with its importer."""
    assert _run("import xai_eval.explain.base", tmp_path).startswith("TORCH-IMPORTED-BY xai_eval")


def test_lazy_names_resolve_on_use() -> None:
    import xai_eval
    from xai_eval.api import get_explainer
    from xai_eval.explain.base import Explainer

    assert xai_eval.get_explainer is get_explainer
    assert xai_eval.Explainer is Explainer
    assert set(xai_eval.__all__) <= set(dir(xai_eval))
    with pytest.raises(AttributeError, match="no_such_name"):
        xai_eval.no_such_name  # noqa: B018
