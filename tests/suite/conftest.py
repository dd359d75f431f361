"""Fixtures of the suite-runner tests: the fake plugins, a tiny dataset, a suite config."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from xai_eval.plugins import Registries, build_registries
from xai_eval.suite.config import SuiteConfig, parse_suite

FAKE_PLUGIN_FILE = Path(__file__).with_name("fake_plugin.py")


def _load_fake_plugin() -> Any:
    name = "xai_eval_test_fake_plugin"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, FAKE_PLUGIN_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def fake_plugin() -> Any:
    return _load_fake_plugin()


@pytest.fixture(scope="session")
def registries(fake_plugin: Any) -> Registries:
    """The installed plugins plus the fake dataset/model/metrics."""
    return build_registries(extra_plugins=[fake_plugin])


@pytest.fixture
def dataset_root(tmp_path: Path, fake_plugin: Any) -> Path:
    return fake_plugin.make_dataset(tmp_path / "data", count=10)


def suite_dict(root: Path, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "tiny",
        "batch_size": 3,
        "topk": 2,
        "models": [{"id": "gap", "spec": "fake:gap"}, {"id": "fc", "spec": "fake:fc"}],
        "explainers": ["gradcam", "cam", "backprop"],
        "datasets": [{"id": "boxes", "format": "fakeboxes", "root": str(root)}],
        "metrics": ["fake_hit", "fake_topk"],
        "report": {"examples": 2},
    }
    data.update(overrides)
    return data


@pytest.fixture
def suite(dataset_root: Path) -> SuiteConfig:
    return parse_suite(suite_dict(dataset_root))
