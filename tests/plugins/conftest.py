"""Fixtures for the plugin-system tests: a clean environment and one-off plugin files.

Every test here builds its own registries (``build_registries(...)``) or resets the cached
default ones, so no test sees another's plugins.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import xai_eval.plugins as plugins_module

PLUGIN_ENV_VARS = (
    "XAI_EVAL_BLOCK_PLUGINS",
    "XAI_EVAL_DISABLE_PLUGIN_AUTOLOAD",
    "XAI_EVAL_TRACE_PLUGINS",
    "XAI_EVAL_PLUGINS_DIR",
)

#: a one-off plugin file registering an explainer called ``dir_gradients``
DIR_EXPLAINER_SOURCE = '''
"""A one-off plugin file, as an experimenter would drop into --plugins-dir."""
from xai_eval import hookimpl
from xai_eval.explain.base import InputGradientExplainer

__version__ = "9.9"


class DirGradients(InputGradientExplainer):
    """Plain gradients, registered from a plugins directory."""

    name = "dir_gradients"


@hookimpl
def xai_eval_register_explainers():
    return [DirGradients]
'''


@pytest.fixture(autouse=True)
def clean_plugin_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No plugin env var leaks in from the caller, and the cached registries are restored."""
    for var in PLUGIN_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(plugins_module, "_default", None)
    yield


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Callable[..., Path]:
    """``plugin_dir(name=source, ...)`` writes ``name.py`` files into a fresh folder."""

    def make(**files: str) -> Path:
        folder = tmp_path / "plugins"
        folder.mkdir(exist_ok=True)
        for stem, source in files.items():
            (folder / f"{stem}.py").write_text(textwrap.dedent(source))
        return folder

    return make
