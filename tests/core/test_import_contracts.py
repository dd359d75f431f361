"""The import contracts of ``.importlinter`` hold (``make lint`` runs the same check).

Run here too so that a pytest run catches a new upward import before it lands, and so that
the contracts cannot silently stop checking anything (each must report KEPT by name).
"""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ".importlinter"


def test_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    assert lint_imports.exists(), (
        "import-linter is not installed in this environment; it is in the test extra: "
        "pip install 'import-linter>=2.0' (or pip install -e '.[test]')")
    done = subprocess.run([str(lint_imports), "--no-cache"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    names = [parser[s]["name"] for s in parser.sections() if s.startswith("importlinter:contract:")]
    assert len(names) == 3
    assert "0 broken" in done.stdout
    assert f"{len(names)} kept" in done.stdout


def test_layers_cover_every_package() -> None:
    """A new top-level module or package of xai_eval must be placed in the layers."""
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    layered = {name.strip() for line in parser["importlinter:contract:layers"]["layers"].split("\n")
               for name in line.split("|") if name.strip()}
    package = ROOT / "xai_eval"
    found = {p.stem for p in package.glob("*.py") if p.stem != "__init__"}
    found |= {p.name for p in package.iterdir() if (p / "__init__.py").exists()}
    assert found == layered, f"not in a layer: {sorted(found - layered)}; " \
                             f"no such module: {sorted(layered - found)}"
