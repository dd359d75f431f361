"""``xai_eval/cli/``: every command module imports its domain inside the commands.

At module level a command module may import only the standard library, click, and
``xai_eval`` itself, its errors and the other ``xai_eval.cli`` modules; everything else
(torch, the suite, the web app, ...) is imported in the command's body, which keeps every
``--help`` fast. ``gapify_run.py`` is the gapify command's work, imported by the command (``pilot_run.py``
likewise for ``study pilot``).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

CLI = Path(__file__).resolve().parents[2] / "xai_eval" / "cli"
WORK_MODULES = {"gapify_run.py", "pilot_run.py"}
ALLOWED_XAI = {"xai_eval", "xai_eval.errors"}


def _top_level_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _allowed(module: str) -> bool:
    root = module.split(".")[0]
    return (module == "__future__" or root in sys.stdlib_module_names or root == "click"
            or module in ALLOWED_XAI or module.startswith("xai_eval.cli"))


@pytest.mark.parametrize("path", sorted(p for p in CLI.glob("*.py") if p.name not in WORK_MODULES),
                         ids=lambda p: p.name)
def test_command_module_imports_its_domain_lazily(path: Path) -> None:
    eager = sorted(m for m in _top_level_imports(path) if not _allowed(m))
    assert not eager, f"{path.name} imports {eager} at module level; import them in the command"


def test_the_rule_catches_an_eager_domain_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("import click\nimport torch\nfrom xai_eval.suite.pipeline import run_suite\n")
    assert {m for m in _top_level_imports(module) if not _allowed(m)} == {
        "torch", "xai_eval.suite.pipeline"}


def test_every_command_module_is_registered() -> None:
    from xai_eval.cli import main

    modules = {command.callback.__module__ for command in main.commands.values()}
    expected = {f"xai_eval.cli.{p.stem}" for p in CLI.glob("*.py")
                if p.name not in WORK_MODULES | {"__init__.py", "__main__.py", "options.py"}}
    assert modules == expected
