"""Meta-tests: the generic guarantees really cover every built-in explainer.

The generic tests (test_cleanup.py, test_inputs.py, test_targets.py, test_device.py) are
parametrised over ``xai_eval.available_explainers()`` at collection time. These tests find
the built-in explainers independently — by importing every package in the repository's
``plugins/`` folder and collecting its Explainer subclasses — so an explainer that is
defined but fails to register, or an exception that names no registered method, is caught
instead of silently shrinking the coverage.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
import torch
import torch.nn as nn

import xai_eval
from xai_eval.errors import XaiEvalError
from xai_eval.explain.base import Explainer
from xai_eval.explain.state import count_hooks
from xai_eval.plugins import default_registries

from .conftest import ALL_EXPLAINERS, EXCEPTIONS, FAST_OPTIONS, GapNet, make_explainer

PLUGINS_DIR = Path(__file__).resolve().parents[2] / "plugins"
GENERIC_TEST_FILES = ("test_cleanup.py", "test_inputs.py", "test_targets.py", "test_device.py")


def builtin_explainer_names() -> set[str]:
    """Names of the Explainer subclasses defined in the repository's plugins/ packages."""
    names: set[str] = set()
    for info in pkgutil.iter_modules([str(PLUGINS_DIR)]):
        if not info.ispkg:
            continue
        package = importlib.import_module(info.name)
        modules = [package] + [
            importlib.import_module(f"{info.name}.{sub.name}")
            for sub in pkgutil.iter_modules(package.__path__)
        ]
        for module in modules:
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if (issubclass(cls, Explainer) and cls.__module__ == module.__name__
                        and getattr(cls, "name", "")):
                    names.add(cls.name)
    return names


def test_every_builtin_explainer_is_covered_by_the_generic_tests() -> None:
    builtins = builtin_explainer_names()
    # the eleven the issue names plus the study's deconv_gradcam and the centre baseline
    assert {"cam", "gradcam", "backprop", "guided_backprop", "deconvnet", "guided_gradcam",
            "deconv_gradcam", "excitation_backprop", "c_mwp", "occlusion", "center"} <= builtins
    missing = builtins - set(ALL_EXPLAINERS)
    assert not missing, (
        f"built-in explainers {sorted(missing)} are defined in plugins/ but not registered, "
        "so the generic tests do not cover them; register them in their plugin's hook"
    )


def test_every_builtin_explainer_names_its_paper_and_oracle() -> None:
    """``xai-eval plugins -v`` lists them: a built-in method without either is a gap."""
    registries = default_registries()
    for name in sorted(builtin_explainer_names()):
        cls = registries.get("explainers", name).cls
        assert cls.paper and cls.oracle, f"{name}: set paper and oracle on {cls.__qualname__}"


def _method_params(module: object) -> dict[str, set[str]]:
    """test name -> the ``method`` values its parametrize mark collects."""
    found: dict[str, set[str]] = {}
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        for mark in getattr(fn, "pytestmark", []):
            if mark.name == "parametrize" and mark.args[0] == "method":
                found[name] = {v.values[0] if hasattr(v, "values") else v for v in mark.args[1]}
    return found


@pytest.mark.parametrize("filename", GENERIC_TEST_FILES)
def test_generic_tests_are_parametrised_over_every_explainer(filename: str) -> None:
    """Each generic test file's per-method tests cover every registered method."""
    module = importlib.import_module(f"{__package__}.{filename.removesuffix('.py')}")
    params = _method_params(module)
    generic = {name: methods for name, methods in params.items()
               if methods == set(ALL_EXPLAINERS)}
    assert len(generic) >= 2, f"{filename} has no tests parametrised over every explainer"
    partial = {name: sorted(set(ALL_EXPLAINERS) - methods) for name, methods in params.items()
               if name not in generic}
    assert not partial, f"{filename}: tests that leave out explainers: {partial}"


def test_exceptions_name_registered_methods_and_real_tests() -> None:
    """A stale exception (method renamed, test renamed) must not linger as dead text."""
    sources = "".join((Path(__file__).parent / f).read_text() for f in GENERIC_TEST_FILES
                      if (Path(__file__).parent / f).exists())
    for (test_name, method), reason in EXCEPTIONS.items():
        assert method in ALL_EXPLAINERS, f"exception for unregistered {method!r}"
        assert f"def {test_name}(" in sources, f"exception for unknown test {test_name!r}"
        assert len(reason) > 20, "each exception says why"
    for method in FAST_OPTIONS:
        assert method in ALL_EXPLAINERS


@pytest.mark.parametrize("method", ["cam", "c_mwp", "rise"])
def test_callable_refusers_refuse_clearly_and_leave_no_trace(method: str) -> None:
    """The methods excepted from the targets-callable test refuse before any pass runs."""
    model = GapNet().eval()
    calls: list[int] = []
    model.register_forward_pre_hook(lambda _m, _i: calls.append(1))
    hooks = count_hooks(model)
    with pytest.raises(XaiEvalError, match="callable"):
        make_explainer(method, model)(torch.randn(1, 3, 16, 16), lambda out: out[:, 0])
    assert count_hooks(model) == hooks


@pytest.mark.parametrize("method", ALL_EXPLAINERS)
def test_needs_autograd_declared_truthfully(method: str, gap_net: nn.Module,
                                            images: torch.Tensor) -> None:
    """Gradient-free methods declare it (and run under inference_mode); the others refuse."""
    cls = type(make_explainer(method, gap_net))
    gradient_free = {"cam", "occlusion", "center", "eigencam", "scorecam", "ablationcam", "rise"}
    if method in gradient_free:
        assert cls.needs_autograd is False
    elif method in set(xai_eval.available_explainers()) - gradient_free:
        assert cls.needs_autograd is True
    explainer = make_explainer(method, gap_net)
    expected = explainer(images, [[1, 3]] * 4)
    with torch.inference_mode():
        if explainer.needs_autograd:
            with pytest.raises(XaiEvalError, match="inference_mode"):
                explainer(images, [[1, 3]] * 4)
        else:
            torch.testing.assert_close(explainer(images, [[1, 3]] * 4), expected)
