"""Meta-tests that keep the plugin surface honest (as datasette does).

Every hook in ``xai_eval/hookspecs.py`` must be documented in ``docs/plugins.md`` with its
exact signature and exercised by a test named ``test_hook_<hook without the xai_eval_
prefix>...``; every switch and base class must be documented; every built-in class must
carry a name and a one-line summary; the worked example must be the example package's code.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from xai_eval import hookspecs
from xai_eval.plugins import KIND_BASES, KIND_HOOKS, build_registries

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "plugins.md"
TESTS = ROOT / "tests"
EXAMPLE = ROOT / "examples" / "xai-eval-example-plugin" / "xai_eval_example_plugin" / "__init__.py"


def hook_specs() -> dict[str, object]:
    """Every function of hookspecs.py marked as a hook specification."""
    return {
        name: function
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, "xai_eval_spec")
    }


def signature_text(function) -> str:
    """``def name(args) -> ret:`` exactly as written in hookspecs.py (string annotations)."""
    signature = inspect.signature(function)
    params = []
    for param in signature.parameters.values():
        text = param.name
        if param.annotation is not inspect.Parameter.empty:
            text += f": {param.annotation}"
        if param.default is not inspect.Parameter.empty:
            text += f" = {param.default!r}"
        params.append(text)
    returns = signature.return_annotation
    arrow = "" if returns is inspect.Signature.empty else f" -> {returns}"
    return f"def {function.__name__}({', '.join(params)}){arrow}:"


def doc_sections() -> dict[str, str]:
    """``### heading`` -> the text up to the next heading of level 2 or 3."""
    text = DOCS.read_text()
    parts = re.split(r"^(#{2,3}) (.+)$", text, flags=re.MULTILINE)
    return {parts[i + 1].strip(): parts[i + 2] for i in range(1, len(parts) - 2, 3)
            if parts[i] == "###"}


def test_the_hook_list_is_what_the_registries_use() -> None:
    assert set(hook_specs()) == set(KIND_HOOKS.values())


def test_signature_helper_reads_the_source_form() -> None:
    assert signature_text(hookspecs.xai_eval_register_explainers) == (
        "def xai_eval_register_explainers() -> list[type[Any]]:")


@pytest.mark.parametrize("hook_name", sorted(hook_specs()))
def test_every_hook_is_documented_with_its_exact_signature(hook_name) -> None:
    sections = doc_sections()
    assert hook_name in sections, f"docs/plugins.md has no '### {hook_name}' section"
    signature = signature_text(hook_specs()[hook_name])
    code_blocks = re.findall(r"```python\n(.*?)```", sections[hook_name], flags=re.DOTALL)
    assert any(block.strip() == signature for block in code_blocks), (
        f"the '### {hook_name}' section must show the signature in its own code block:\n"
        f"```python\n{signature}\n```")


def test_no_documented_hook_is_stale() -> None:
    documented = {name for name in doc_sections() if name.startswith("xai_eval_")}
    assert documented == set(hook_specs())


def _test_function_names() -> set[str]:
    names: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        names |= {node.name for node in ast.walk(tree)
                  if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.name.startswith("test_")}
    return names


@pytest.mark.parametrize("hook_name", sorted(hook_specs()))
def test_every_hook_has_a_test(hook_name) -> None:
    prefix = "test_hook_" + hook_name.removeprefix("xai_eval_")
    assert any(name.startswith(prefix) for name in _test_function_names()), (
        f"no test exercises {hook_name}: add one named {prefix}...")


@pytest.mark.parametrize("switch", ["XAI_EVAL_BLOCK_PLUGINS", "XAI_EVAL_DISABLE_PLUGIN_AUTOLOAD",
                                    "XAI_EVAL_TRACE_PLUGINS", "XAI_EVAL_PLUGINS_DIR",
                                    "--plugins-dir"])
def test_every_switch_is_documented(switch) -> None:
    assert f"`{switch}" in DOCS.read_text()


def test_every_switch_in_the_code_is_documented() -> None:
    import xai_eval.plugins as plugins_module

    used = set(re.findall(r"XAI_EVAL_[A-Z_]+", inspect.getsource(plugins_module)))
    documented = set(re.findall(r"XAI_EVAL_[A-Z_]+", DOCS.read_text()))
    assert used <= documented


@pytest.mark.parametrize("kind", sorted(KIND_BASES))
def test_every_base_class_is_documented_next_to_its_hook(kind) -> None:
    module, _, cls = KIND_BASES[kind].partition(":")
    rows = [line for line in DOCS.read_text().splitlines() if line.startswith("| `xai_eval_")]
    assert any(f"`{KIND_HOOKS[kind]}`" in row and f"`{module}.{cls}`" in row for row in rows)


def test_worked_example_is_the_example_packages_code() -> None:
    assert EXAMPLE.read_text().strip() in DOCS.read_text()


def test_every_builtin_class_has_a_name_and_a_one_line_summary() -> None:
    registries = build_registries()
    builtin = {info.name for info in registries.plugins if info.version != "unknown"}
    for kind in KIND_HOOKS:
        for name in registries.names(kind):
            entry = registries.get(kind, name)
            if entry.plugin not in builtin:
                continue
            assert entry.summary, f"{kind} {name!r} of {entry.plugin} has no docstring summary"
            lines = (entry.cls.__doc__ or "").strip().splitlines()
            assert len(lines) == 1 or not lines[1].strip(), (
                f"{kind} {name!r}: the summary must fit the docstring's first line (a blank "
                f"line after it); `xai-eval plugins` shows only {lines[0]!r}")


def test_hookspec_docstrings_name_classes_that_exist() -> None:
    import importlib

    references = re.findall(r":class:`~?([\w.]+)`", inspect.getsource(hookspecs))
    assert references
    for reference in references:
        module, _, attr = reference.rpartition(".")
        found = getattr(importlib.import_module(module), attr, None)
        assert isinstance(found, type), f"hookspecs.py refers to {reference}, which does not exist"
