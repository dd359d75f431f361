"""The example third-party plugin: really installed, found through its entry point, correct.

``examples/xai-eval-example-plugin`` is a separate distribution with its own pyproject.toml.
The module fixture pip-installs it (editable, no dependencies, no index: nothing is
downloaded) unless this checkout's copy is already installed, so reruns are fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
import torch
import torch.nn as nn

import xai_eval
from xai_eval.plugins import build_registries

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "xai-eval-example-plugin"
DIST_NAME = "xai-eval-example-plugin"
PLUGIN_NAME = "example_input_x_gradient"


def _installed_from_this_checkout() -> bool:
    try:
        dist = distribution(DIST_NAME)
    except PackageNotFoundError:
        return False
    if not any(ep.group == "xai_eval" and ep.name == PLUGIN_NAME for ep in dist.entry_points):
        return False
    direct_url = json.loads(dist.read_text("direct_url.json") or "{}")
    return direct_url.get("url") == EXAMPLE.as_uri()


@pytest.fixture(scope="module")
def installed_example() -> Path:
    if not _installed_from_this_checkout():
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                   "--editable", str(EXAMPLE)]
        if importlib.util.find_spec("setuptools") is not None:
            # build with the venv's setuptools: no index is contacted at all
            command[4:4] = ["--no-build-isolation", "--no-index"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
        importlib.invalidate_caches()
        assert _installed_from_this_checkout(), "pip succeeded but the distribution is not visible"
    return EXAMPLE


@pytest.fixture
def example_importable(installed_example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The editable install's path hook is read at interpreter start; this process started
    # before the install, so put the package folder on sys.path for the import itself.
    monkeypatch.syspath_prepend(str(installed_example))


def test_discovered_through_its_entry_point(example_importable) -> None:
    registries = build_registries()
    assert not [e for e in registries.errors if e.plugin == PLUGIN_NAME], registries.errors
    entry = registries.get("explainers", "example_input_x_gradient")
    assert (entry.plugin, entry.version) == (PLUGIN_NAME, "0.1.0")
    assert entry.summary.startswith("Input x Gradient (Shrikumar et al. 2016)")
    info = {plugin.name: plugin for plugin in registries.plugins}[PLUGIN_NAME]
    assert info.source == "entry point xai_eval_example_plugin"
    assert info.hooks == ("xai_eval_register_explainers",)


def test_explainer_works_through_get_explainer(example_importable) -> None:
    registries = build_registries()
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 5 * 5, 4))
    images = torch.randn(2, 3, 5, 5)
    explainer = xai_eval.get_explainer("example_input_x_gradient", model, registries=registries)
    maps = explainer(images, [3, 1])  # (B, H, W)
    weight = model[1].weight.detach().reshape(4, 3, 5, 5)
    expected = (images * weight[[3, 1]]).abs().sum(dim=1)  # closed form for a linear model
    torch.testing.assert_close(maps, expected)


def test_blocking_the_example_by_its_entry_point_name(example_importable, monkeypatch) -> None:
    monkeypatch.setenv("XAI_EVAL_BLOCK_PLUGINS", PLUGIN_NAME)
    registries = build_registries()
    assert "example_input_x_gradient" not in registries.names("explainers")
    assert "input_x_gradient" in registries.names("explainers")  # the built-in one
    assert "gradcam" in registries.names("explainers")


def test_fresh_interpreter_lists_it_in_xai_eval_plugins(installed_example) -> None:
    env = {**os.environ, "COLUMNS": "250"}
    for var in ("XAI_EVAL_BLOCK_PLUGINS", "XAI_EVAL_DISABLE_PLUGIN_AUTOLOAD", "XAI_EVAL_PLUGINS_DIR"):
        env.pop(var, None)
    done = subprocess.run([sys.executable, "-m", "xai_eval.cli", "plugins"], capture_output=True,
                          text=True, env=env, timeout=300)
    rows = [line for line in done.stdout.splitlines() if "example_input_x_gradient" in line]
    assert any(PLUGIN_NAME in row and "0.1.0" in row for row in rows), done.stdout + done.stderr
