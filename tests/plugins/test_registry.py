"""The plugin manager and registries: discovery, isolation of broken plugins, switches.

Tests named ``test_hook_<hook>_...`` are the ones ``test_plugin_meta.py`` counts as
exercising that hook.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn

import xai_eval
from xai_eval import hookimpl
from xai_eval.errors import UnknownNameError
from xai_eval.explain.base import Explainer, InputGradientExplainer
from xai_eval.plugins import ENTRY_POINT_GROUP, KIND_HOOKS, build_registries

from .conftest import DIR_EXPLAINER_SOURCE

BUILTIN_EXPLAINERS = {
    "cam": "cam_methods",
    "gradcam": "cam_methods",
    "guided_gradcam": "cam_methods",
    "backprop": "gradient_methods",
    "guided_backprop": "gradient_methods",
    "deconvnet": "gradient_methods",
}


def explainer_class(name: str, base: type = InputGradientExplainer) -> type:
    """A minimal explainer class registered under ``name``."""
    return type(name.title().replace("_", ""), (base,), {"name": name, "__doc__": f"{name} test."})


def plugin(name: str, **hooks) -> SimpleNamespace:
    """A plugin object whose attributes are the given hook implementations."""
    namespace = SimpleNamespace(__name__=name)
    for hook_name, function in hooks.items():
        setattr(namespace, hook_name, hookimpl(function))
    return namespace


def errors_of(registries, plugin_name: str) -> list[str]:
    return [error.message for error in registries.errors if error.plugin == plugin_name]


# --- discovery --------------------------------------------------------------------------
def test_builtin_plugins_arrive_through_the_entry_point_group() -> None:
    # Only xai-eval's own entry points: a third-party plugin being installed by another test
    # worker at this moment may be declared but not importable in this process yet.
    declared = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)
                if ep.dist is not None and ep.dist.name == "xai-eval"}
    registries = build_registries()
    assert not [e for e in registries.errors if e.plugin in declared], registries.errors
    for explainer, plugin_name in BUILTIN_EXPLAINERS.items():
        entry = registries.get("explainers", explainer)
        assert entry.plugin == plugin_name
        assert entry.version == xai_eval.__version__
        module = entry.cls.__module__  # the plugin package or one of its modules
        assert module == declared[plugin_name] or module.startswith(declared[plugin_name] + ".")
        assert entry.summary and "\n" not in entry.summary
    loaded = {info.name: info for info in registries.plugins}
    assert loaded["cam_methods"].source == f"entry point {declared['cam_methods']}"
    assert "xai_eval_register_explainers" in loaded["cam_methods"].hooks


def test_unknown_name_lists_the_available_ones() -> None:
    registries = build_registries(load_entry_points=False, extra_plugins=[
        plugin("one", xai_eval_register_explainers=lambda: [explainer_class("alpha")])])
    with pytest.raises(UnknownNameError, match=r"unknown explainer 'beta'; available: alpha"):
        registries.get("explainers", "beta")


def test_plugins_dir_loads_a_one_off_file(plugin_dir) -> None:
    folder = plugin_dir(my_experiment=DIR_EXPLAINER_SOURCE)
    registries = build_registries(load_entry_points=False, plugins_dir=folder)
    assert registries.errors == []
    entry = registries.get("explainers", "dir_gradients")
    assert (entry.plugin, entry.version) == ("my_experiment", "9.9")
    assert registries.plugins[0].source == str(folder / "my_experiment.py")


def test_plugins_dir_from_the_environment(plugin_dir, monkeypatch) -> None:
    monkeypatch.setenv("XAI_EVAL_PLUGINS_DIR", str(plugin_dir(my_experiment=DIR_EXPLAINER_SOURCE)))
    registries = build_registries(load_entry_points=False)
    assert registries.names("explainers") == ["dir_gradients"]


def test_missing_plugins_dir_is_reported(tmp_path) -> None:
    registries = build_registries(load_entry_points=False, plugins_dir=tmp_path / "nope")
    assert [str(e) for e in registries.errors] == [
        f"plugin {str(tmp_path / 'nope')!r}: plugins directory does not exist"]


def test_plugin_from_dir_works_through_get_explainer(plugin_dir) -> None:
    registries = build_registries(plugins_dir=plugin_dir(my_experiment=DIR_EXPLAINER_SOURCE))
    model = nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.LazyLinear(4))
    model(torch.zeros(1, 3, 8, 8))
    images = torch.randn(2, 3, 8, 8)
    ours = xai_eval.get_explainer("dir_gradients", model, registries=registries)(images, 1)
    reference = xai_eval.get_explainer("backprop", model, registries=registries)(images, 1)
    torch.testing.assert_close(ours, reference)


# --- broken plugins: a clear error naming the plugin, the others keep working ----------
def test_import_error_names_the_plugin_and_spares_the_others(plugin_dir) -> None:
    folder = plugin_dir(broken="import not_a_real_module_xyz\n", my_experiment=DIR_EXPLAINER_SOURCE)
    registries = build_registries(plugins_dir=folder)
    (message,) = errors_of(registries, "broken")
    assert "import of" in message and "ModuleNotFoundError" in message
    assert "not_a_real_module_xyz" in message
    assert {"dir_gradients", "gradcam", "backprop"} <= set(registries.names("explainers"))


def test_hookimpl_with_an_argument_the_spec_lacks(plugin_dir) -> None:
    source = '''
        from xai_eval import hookimpl
        from xai_eval.explain.base import InputGradientExplainer

        class Half(InputGradientExplainer):
            """Never registered: the plugin is rejected as a whole."""
            name = "half"

        @hookimpl
        def xai_eval_register_metrics():
            return []

        @hookimpl
        def xai_eval_register_explainers(model_zoo):
            return [Half]
    '''
    registries = build_registries(plugins_dir=plugin_dir(wrong_args=source))
    (message,) = errors_of(registries, "wrong_args")
    assert "rejected by the hook specs" in message and "model_zoo" in message
    assert "half" not in registries.names("explainers")
    assert "wrong_args" not in {info.name for info in registries.plugins}
    assert "gradcam" in registries.names("explainers")


def test_misspelt_hook_name_unregisters_the_plugin() -> None:
    typo = plugin("typo",
                  xai_eval_register_explainer=lambda: [explainer_class("typo_method")],
                  xai_eval_register_explainers=lambda: [explainer_class("typo_other")])
    good = plugin("good", xai_eval_register_explainers=lambda: [explainer_class("fine")])
    registries = build_registries(load_entry_points=False, extra_plugins=[typo, good])
    assert errors_of(registries, "typo") == [
        "implements 'xai_eval_register_explainer', which is no xai-eval hook"]
    assert registries.names("explainers") == ["fine"]


def test_optional_hooks_of_other_projects_are_not_errors() -> None:
    from xai_eval import hookimpl as marker

    namespace = SimpleNamespace(__name__="optional")
    namespace.xai_eval_future_hook = marker(optionalhook=True)(lambda: [])
    registries = build_registries(load_entry_points=False, extra_plugins=[namespace])
    assert registries.errors == []


def test_hook_that_raises_names_the_plugin_and_spares_the_others() -> None:
    def explode():
        raise RuntimeError("weights server unreachable")

    bad = plugin("bad", xai_eval_register_explainers=explode)
    good = plugin("good", xai_eval_register_explainers=lambda: [explainer_class("fine")])
    registries = build_registries(load_entry_points=False, extra_plugins=[bad, good])
    assert errors_of(registries, "bad") == [
        "xai_eval_register_explainers() raised RuntimeError: weights server unreachable"]
    assert registries.names("explainers") == ["fine"]


def test_duplicate_name_names_both_plugins_and_keeps_the_first() -> None:
    first = plugin("first", xai_eval_register_explainers=lambda: [explainer_class("same")])
    second = plugin("second", xai_eval_register_explainers=lambda: [
        explainer_class("same"), explainer_class("unique")])
    registries = build_registries(load_entry_points=False, extra_plugins=[first, second])
    (message,) = errors_of(registries, "second")
    assert "'same' is already registered by plugin 'first'" in message
    assert "XAI_EVAL_BLOCK_PLUGINS=second" in message
    assert registries.get("explainers", "same").plugin == "first"
    assert registries.get("explainers", "unique").plugin == "second"
    with pytest.raises(UnknownNameError, match="some plugins failed to load: plugin 'second'"):
        registries.get("explainers", "missing")


def test_duplicate_with_a_builtin_name_keeps_the_builtin() -> None:
    shadow = plugin("shadow", xai_eval_register_explainers=lambda: [explainer_class("gradcam")])
    registries = build_registries(extra_plugins=[shadow])
    assert "already registered by plugin 'cam_methods'" in errors_of(registries, "shadow")[0]
    assert registries.get("explainers", "gradcam").plugin == "cam_methods"


def test_duplicate_plugin_name_is_reported(plugin_dir) -> None:
    clash = plugin("my_experiment", xai_eval_register_explainers=lambda: [explainer_class("x")])
    registries = build_registries(load_entry_points=False, extra_plugins=[clash],
                                  plugins_dir=plugin_dir(my_experiment=DIR_EXPLAINER_SOURCE))
    (message,) = errors_of(registries, "my_experiment")
    assert "a plugin named 'my_experiment' is already loaded" in message
    assert registries.names("explainers") == ["dir_gradients"]


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        (lambda: explainer_class("solo"), "must return a list of classes, not type"),
        (lambda: ["gradcam"], "returned 'gradcam' as a explainer, which is not a class"),
        (lambda: [type("Nameless", (InputGradientExplainer,), {})], "not a class with a `name`"),
        (lambda: [type("NotAnExplainer", (), {"name": "odd"})],
         "NotAnExplainer) must subclass xai_eval.explain.base.Explainer"),
    ],
)
def test_hook_returning_the_wrong_thing(returned, expected) -> None:
    registries = build_registries(load_entry_points=False, extra_plugins=[
        plugin("sloppy", xai_eval_register_explainers=returned)])
    (message,) = errors_of(registries, "sloppy")
    assert expected in message
    assert registries.names("explainers") == []


# --- switches -----------------------------------------------------------------------------
def test_block_plugins_env_var_skips_entry_points_files_and_extras(plugin_dir, monkeypatch) -> None:
    monkeypatch.setenv("XAI_EVAL_BLOCK_PLUGINS", "gradient_methods, my_experiment,extra_one")
    extra = plugin("extra_one", xai_eval_register_explainers=lambda: [explainer_class("extra")])
    registries = build_registries(extra_plugins=[extra],
                                  plugins_dir=plugin_dir(my_experiment=DIR_EXPLAINER_SOURCE))
    names = set(registries.names("explainers"))
    assert {"gradcam", "cam"} <= names
    assert not names & {"backprop", "guided_backprop", "deconvnet", "dir_gradients", "extra"}
    loaded = {info.name for info in registries.plugins}
    assert "gradient_methods" not in loaded and "cam_methods" in loaded


def test_disable_autoload_env_var_skips_entry_points_only(plugin_dir, monkeypatch) -> None:
    monkeypatch.setenv("XAI_EVAL_DISABLE_PLUGIN_AUTOLOAD", "1")
    registries = build_registries(plugins_dir=plugin_dir(my_experiment=DIR_EXPLAINER_SOURCE))
    assert registries.names("explainers") == ["dir_gradients"]
    assert [info.name for info in registries.plugins] == ["my_experiment"]
    # An explicit argument wins over the environment.
    assert "gradcam" in build_registries(load_entry_points=True).names("explainers")


def test_trace_env_var_prints_every_hook_call(monkeypatch, capsys) -> None:
    monkeypatch.setenv("XAI_EVAL_TRACE_PLUGINS", "1")
    build_registries(load_entry_points=False, extra_plugins=[
        plugin("traced", xai_eval_register_explainers=lambda: [explainer_class("t")])])
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "xai_eval_register_explainers [plugin traced] [hook]"
    assert lines[1].startswith("finish xai_eval_register_explainers [plugin traced] --> [<class")


def test_default_registries_are_cached_and_reloadable(plugin_dir) -> None:
    from xai_eval.plugins import default_registries, reload_default_registries

    assert default_registries() is default_registries()
    assert "dir_gradients" not in xai_eval.available_explainers()
    reload_default_registries(plugin_dir(my_experiment=DIR_EXPLAINER_SOURCE))
    assert "dir_gradients" in xai_eval.available_explainers()


# --- every hook, exercised (test_plugin_meta.py checks these names exist) ----------------
def _register_one(kind: str, base: type) -> None:
    cls = type(f"Dummy{kind.title()}", (base,), {"name": f"dummy_{kind}", "__doc__": "Dummy.\n\nMore."})
    registries = build_registries(load_entry_points=False, extra_plugins=[
        plugin(f"p_{kind}", **{KIND_HOOKS[kind]: lambda: [cls]})])
    assert registries.errors == []
    entry = registries.get(kind, f"dummy_{kind}")
    assert (entry.cls, entry.plugin, entry.summary) == (cls, f"p_{kind}", "Dummy.")
    assert registries.plugins[0].hooks == (KIND_HOOKS[kind],)


def test_hook_register_explainers() -> None:
    _register_one("explainers", Explainer)


def test_hook_register_metrics() -> None:
    from xai_eval.metrics.base import Metric

    _register_one("metrics", Metric)


def test_hook_register_datasets() -> None:
    from xai_eval.data.base import Dataset

    _register_one("datasets", Dataset)


def test_hook_register_models() -> None:
    from xai_eval.models.base import ModelSource

    _register_one("models", ModelSource)


def test_hook_register_study_tasks() -> None:
    from xai_eval.studies.tasks import StudyTask

    _register_one("study_tasks", StudyTask)


@pytest.mark.parametrize("kind", sorted(KIND_HOOKS))
def test_every_kind_refuses_classes_of_the_wrong_base(kind) -> None:
    cls = type("Wrong", (), {"name": "wrong"})
    registries = build_registries(load_entry_points=False, extra_plugins=[
        plugin("wrong_base", **{KIND_HOOKS[kind]: lambda: [cls]})])
    assert "must subclass" in errors_of(registries, "wrong_base")[0]
    assert registries.names(kind) == []
