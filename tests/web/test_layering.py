"""The web and study layers import downward only (read from the source, lazy imports too).

- ``xai_eval.web`` reaches study data only through the two services and their errors,
  never through the models or the services' inner modules;
- the blueprints (participant, api, admin) do not import each other;
- nothing under ``xai_eval.studies`` imports the web layer;
- ``xai_eval.studies.errors`` imports nothing above ``xai_eval.errors``;
- no module of the product imports ``xai_eval.testing``;
- the web and study modules have no (runtime) import cycle.

The command-line modules live in ``xai_eval.cli``, above both layers (import-linter's
layers contract in ``.importlinter`` covers the whole package).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "xai_eval"
WEB_MAY_USE = {"xai_eval.studies.participant_service", "xai_eval.studies.admin_service",
               "xai_eval.studies.errors"}
BLUEPRINTS = ("xai_eval.web.participant", "xai_eval.web.api", "xai_eval.web.admin")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING"))


def _nodes(tree: ast.AST, typing_only: bool):
    """The AST nodes of ``tree``; without ``if TYPE_CHECKING:`` blocks unless ``typing_only``."""
    for child in ast.iter_child_nodes(tree):
        if _is_type_checking(child) and not typing_only:
            continue
        yield child
        yield from _nodes(child, typing_only)


def _imports(path: Path, typing_only: bool = True) -> set[str]:
    """Every ``xai_eval...`` module ``path`` imports, lazy ones included (``from a import b``
    counts a.b when a.b is a module, else a); ``typing_only=False`` leaves out the imports
    under ``if TYPE_CHECKING:``, which never run."""
    found: set[str] = set()
    for node in _nodes(ast.parse(path.read_text()), typing_only):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
    return {name for name in found if name.split(".")[0] == "xai_eval"}


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: _imports(path) for name, path in MODULES.items()}
RUNTIME_GRAPH = {name: _imports(path, typing_only=False) for name, path in MODULES.items()}


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _layer_modules(*packages: str) -> list[str]:
    return sorted(n for n in MODULES if any(_in(n, p) for p in packages))


@pytest.mark.parametrize("module", _layer_modules("xai_eval.web"))
def test_web_uses_only_the_study_services(module):
    imported = GRAPH[module]
    studies = {i for i in imported if _in(i, "xai_eval.studies")}
    assert studies <= WEB_MAY_USE, f"{module} imports {sorted(studies - WEB_MAY_USE)}"
    models = {i for i in imported if _in(i, "xai_eval.db.studies") or _in(i, "xai_eval.db.results")}
    assert not models, f"{module} queries the models directly: {sorted(models)}"


@pytest.mark.parametrize("blueprint", BLUEPRINTS)
def test_blueprints_do_not_import_each_other(blueprint):
    others = [b for b in BLUEPRINTS if b != blueprint]
    for module in _layer_modules(blueprint):
        crossing = {i for i in GRAPH[module] if any(_in(i, o) for o in others)}
        assert not crossing, f"{module} imports {sorted(crossing)}"


@pytest.mark.parametrize("module", _layer_modules("xai_eval.studies"))
def test_studies_never_import_the_web(module):
    assert not {i for i in GRAPH[module] if _in(i, "xai_eval.web")}


def test_study_errors_depend_on_nothing_above():
    assert GRAPH["xai_eval.studies.errors"] <= {"xai_eval.errors"}


def test_the_product_does_not_import_the_test_fixtures():
    users = sorted(n for n, imported in GRAPH.items() if "xai_eval.testing" in imported)
    assert not users


def test_no_import_cycles_in_web_and_studies():
    """Runtime imports only: a task's annotations may name the build context it is given
    (``if TYPE_CHECKING:``) without the two modules ever importing each other."""
    nodes = set(_layer_modules("xai_eval.web", "xai_eval.studies"))
    # a package imports its own submodules to register them; that is not a cycle
    edges = {n: {i for i in RUNTIME_GRAPH[n] if i in nodes and not _in(i, n)} for n in nodes}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(nodes):
        if node not in state:
            visit(node)
