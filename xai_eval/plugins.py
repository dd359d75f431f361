"""Plugin discovery and the name-keyed registries built from it.

:func:`get_plugin_manager` is the one place that knows the load order:

1. add the hook specs (:mod:`xai_eval.hookspecs`);
2. read ``XAI_EVAL_BLOCK_PLUGINS`` (comma-separated plugin names to skip, whatever the
   source: entry point, plugins-directory file stem, or extra plugin name);
3. load the ``xai_eval`` entry-point group, unless ``XAI_EVAL_DISABLE_PLUGIN_AUTOLOAD`` is
   set — the built-in plugins in ``plugins/`` arrive through this same group;
4. load one-off plugin files from a plugins directory (``--plugins-dir`` or
   ``XAI_EVAL_PLUGINS_DIR``), as datasette does;
5. register extra plugin objects (tests use this);
6. ``check_pending()``, which catches misspelt hook names.

A plugin that fails at any step (import error, a hook argument the spec does not have, a
misspelt hook, a hook that raises or returns something other than a list of classes of the
right base class, a duplicate name) is recorded as a :class:`PluginError`
naming it, is left out, and never takes the other plugins down.
``XAI_EVAL_TRACE_PLUGINS=1`` prints every hook call to stderr.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from xai_eval import hookspecs
from xai_eval.errors import UnknownNameError

PROJECT = "xai_eval"
ENTRY_POINT_GROUP = "xai_eval"

#: registry kind -> the hook that fills it
KIND_HOOKS: dict[str, str] = {
    "explainers": "xai_eval_register_explainers",
    "metrics": "xai_eval_register_metrics",
    "datasets": "xai_eval_register_datasets",
    "models": "xai_eval_register_models",
    "study_tasks": "xai_eval_register_study_tasks",
}

#: singular noun used in messages
KIND_NOUN = {
    "explainers": "explainer",
    "metrics": "metric",
    "datasets": "dataset format",
    "models": "model source",
    "study_tasks": "study task",
}


@dataclass(frozen=True)
class PluginError:
    """A plugin that could not be used, and why."""

    plugin: str
    message: str

    def __str__(self) -> str:
        return f"plugin {self.plugin!r}: {self.message}"


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin: where it came from and which hooks it implements."""

    name: str
    version: str
    source: str
    hooks: tuple[str, ...]


@dataclass(frozen=True)
class RegistryEntry:
    """One registered class with the plugin that provided it."""

    name: str
    cls: type
    plugin: str
    version: str
    summary: str


@dataclass
class Registries:
    """Everything the plugins provide, keyed by kind then by name."""

    entries: dict[str, dict[str, RegistryEntry]] = field(
        default_factory=lambda: {kind: {} for kind in KIND_HOOKS}
    )
    plugins: list[PluginInfo] = field(default_factory=list)
    errors: list[PluginError] = field(default_factory=list)

    def names(self, kind: str) -> list[str]:
        """Sorted names registered for ``kind`` (e.g. ``"explainers"``)."""
        return sorted(self.entries[kind])

    def get(self, kind: str, name: str) -> RegistryEntry:
        """The entry for ``name``, or an error that lists the valid names."""
        try:
            return self.entries[kind][name]
        except KeyError:
            noun = KIND_NOUN[kind]
            raise UnknownNameError(
                f"unknown {noun} {name!r}; available: {', '.join(self.names(kind)) or 'none'}"
                + self._error_hint()
            ) from None

    def _error_hint(self) -> str:
        if not self.errors:
            return ""
        return " (some plugins failed to load: " + "; ".join(map(str, self.errors)) + ")"


def _summary(cls: type) -> str:
    doc = (cls.__doc__ or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


def _blocked_names() -> set[str]:
    raw = os.environ.get("XAI_EVAL_BLOCK_PLUGINS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def _load_module_from_file(path: Path) -> ModuleType:
    module_name = f"xai_eval_dir_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


class _Loader:
    """Registers plugins one by one, recording instead of raising on failure."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.errors: list[PluginError] = []
        self.info: dict[str, tuple[str, str]] = {}  # plugin name -> (version, source)

    def register(self, plugin: Any, name: str, version: str, source: str) -> None:
        if self.pm.is_blocked(name):
            return
        existing = self.pm.get_plugin(name)
        if existing is not None:
            previous = self.info.get(name, ("", "another plugin"))[1]
            self.errors.append(PluginError(
                name, f"a plugin named {name!r} is already loaded (from {previous}); "
                f"{source} was skipped. Rename one of them"))
            return
        try:
            self.pm.register(plugin, name=name)
            self.info[name] = (version, source)
        except pluggy.PluginValidationError as exc:
            self.errors.append(PluginError(name, f"rejected by the hook specs: {exc}"))
        except ValueError as exc:  # the same object registered twice under two names
            self.errors.append(PluginError(name, f"could not be registered: {exc}"))

    def load_entry_points(self, blocked: set[str]) -> None:
        seen: dict[str, str] = {}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in blocked or seen.get(ep.name) == ep.value:
                continue  # blocked, or the same distribution found twice on sys.path
            seen.setdefault(ep.name, ep.value)
            version = ep.dist.version if ep.dist is not None else "unknown"
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin must not take the others down
                self.errors.append(
                    PluginError(ep.name, f"import of {ep.value!r} failed: {type(exc).__name__}: {exc}")
                )
                continue
            self.register(plugin, ep.name, version, f"entry point {ep.value}")

    def load_directory(self, directory: Path, blocked: set[str]) -> None:
        if not directory.is_dir():
            self.errors.append(PluginError(str(directory), "plugins directory does not exist"))
            return
        for path in sorted(directory.glob("*.py")):
            if path.stem in blocked or path.stem.startswith("_"):
                continue
            try:
                module = _load_module_from_file(path)
            except Exception as exc:
                self.errors.append(
                    PluginError(path.stem, f"import of {path} failed: {type(exc).__name__}: {exc}")
                )
                continue
            self.register(module, path.stem, getattr(module, "__version__", "file"), str(path))

    def check_pending(self) -> None:
        """Unregister plugins that implement hooks no spec defines (misspellings)."""
        for hook_name, caller in list(vars(self.pm.hook).items()):
            if getattr(caller, "spec", True) is not None:
                continue
            for impl in caller.get_hookimpls():
                if impl.optionalhook:
                    continue
                self.errors.append(
                    PluginError(impl.plugin_name, f"implements {hook_name!r}, which is no xai-eval hook")
                )
                if self.pm.is_registered(impl.plugin):
                    self.pm.unregister(impl.plugin)
                self.info.pop(impl.plugin_name, None)
        self.pm.check_pending()


def get_plugin_manager(
    plugins_dir: str | os.PathLike[str] | None = None,
    extra_plugins: Iterable[Any] = (),
    load_entry_points: bool | None = None,
) -> tuple[pluggy.PluginManager, list[PluginError], dict[str, tuple[str, str]]]:
    """Build a plugin manager in the documented load order.

    Returns the manager, the errors met while loading, and ``name -> (version, source)``.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    if os.environ.get("XAI_EVAL_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda msg: print(msg, end="", file=sys.stderr))
        pm.enable_tracing()
    loader = _Loader(pm)
    blocked = _blocked_names()
    for name in blocked:
        pm.set_blocked(name)
    if load_entry_points is None:
        load_entry_points = not os.environ.get("XAI_EVAL_DISABLE_PLUGIN_AUTOLOAD")
    if load_entry_points:
        loader.load_entry_points(blocked)
    plugins_dir = plugins_dir or os.environ.get("XAI_EVAL_PLUGINS_DIR")
    if plugins_dir:
        loader.load_directory(Path(plugins_dir), blocked)
    for index, plugin in enumerate(extra_plugins):
        name = getattr(plugin, "__name__", None) or f"extra-{index}"
        loader.register(plugin, name, getattr(plugin, "__version__", "extra"), "registered in code")
    loader.check_pending()
    return pm, loader.errors, loader.info


#: keyword arguments the core passes to each hook (none yet; pluggy's "opt-in arguments"
#: let a later version add some without breaking existing plugins)
HOOK_ARGUMENTS: dict[str, dict[str, Any]] = {hook: {} for hook in KIND_HOOKS.values()}


def _call_one(pm: pluggy.PluginManager, hook_name: str, impl: Any) -> Any:
    """Call one plugin's implementation of a list hook, traced like a pluggy hook call."""
    if impl.hookwrapper or getattr(impl, "wrapper", False):
        raise TypeError("register hooks are plain list hooks; wrappers are not supported")
    trace = pm.trace.root.get("hook")
    trace(hook_name, f"[plugin {impl.plugin_name}]")
    available = HOOK_ARGUMENTS.get(hook_name, {})
    result = impl.function(**{arg: available[arg] for arg in impl.argnames})
    trace("finish", hook_name, f"[plugin {impl.plugin_name}] -->", result)
    return result


def build_registries(
    plugins_dir: str | os.PathLike[str] | None = None,
    extra_plugins: Iterable[Any] = (),
    load_entry_points: bool | None = None,
) -> Registries:
    """Load the plugins and merge what their hooks return into name-keyed registries."""
    pm, errors, info = get_plugin_manager(plugins_dir, extra_plugins, load_entry_points)
    registries = Registries(errors=list(errors))
    hooks_by_plugin: dict[str, list[str]] = {}
    for kind, hook_name in KIND_HOOKS.items():
        impls = getattr(pm.hook, hook_name).get_hookimpls()
        # Call each implementation on its own, in load order (the first plugin to register
        # a name keeps it), so that one that raises leaves the others usable.
        for impl in impls:
            plugin_name = impl.plugin_name
            hooks_by_plugin.setdefault(plugin_name, []).append(hook_name)
            try:
                returned = _call_one(pm, hook_name, impl)
            except Exception as exc:
                registries.errors.append(
                    PluginError(plugin_name, f"{hook_name}() raised {type(exc).__name__}: {exc}")
                )
                continue
            if returned is None:
                continue
            if not isinstance(returned, (list, tuple)):
                registries.errors.append(PluginError(
                    plugin_name, f"{hook_name}() must return a list of classes, "
                    f"not {type(returned).__name__}"))
                continue
            version = info.get(plugin_name, ("unknown", ""))[0]
            for cls in returned:
                _add_entry(registries, kind, cls, plugin_name, version)
    for plugin_name, (version, source) in sorted(info.items()):
        if pm.get_plugin(plugin_name) is None:
            continue
        hooks = tuple(hooks_by_plugin.get(plugin_name, []))
        registries.plugins.append(PluginInfo(plugin_name, version, source, hooks))
    return registries


def _add_entry(registries: Registries, kind: str, cls: Any, plugin: str, version: str) -> None:
    name = getattr(cls, "name", None)
    noun = KIND_NOUN[kind]
    if not isinstance(cls, type) or not isinstance(name, str) or not name:
        registries.errors.append(
            PluginError(plugin, f"returned {cls!r} as a {noun}, which is not a class with a `name`")
        )
        return
    base = _kind_base(kind)
    if not issubclass(cls, base):
        registries.errors.append(PluginError(
            plugin, f"{noun} {name!r} ({cls.__module__}.{cls.__qualname__}) must subclass "
            f"{base.__module__}.{base.__qualname__}"))
        return
    existing = registries.entries[kind].get(name)
    if existing is not None:
        registries.errors.append(
            PluginError(
                plugin,
                f"{noun} name {name!r} is already registered by plugin {existing.plugin!r}; "
                f"kept {existing.plugin!r}'s. Rename one, or block a plugin with "
                f"XAI_EVAL_BLOCK_PLUGINS={plugin}",
            )
        )
        return
    registries.entries[kind][name] = RegistryEntry(name, cls, plugin, version, _summary(cls))


#: registry kind -> "module:Class" every registered class must subclass
KIND_BASES: dict[str, str] = {
    "explainers": "xai_eval.explain.base:Explainer",
    "metrics": "xai_eval.metrics.base:Metric",
    "datasets": "xai_eval.data.base:Dataset",
    "models": "xai_eval.models.base:ModelSource",
    "study_tasks": "xai_eval.studies.tasks:StudyTask",
}


def _kind_base(kind: str) -> type:
    """The base class every ``kind`` class must subclass.

    Imported by name when the registries are built, not at module level: the base classes
    live in the layers above this module (``explain``, ``metrics``, ``studies``, ...), which
    themselves use the registries; an import error here is a real bug and propagates.
    """
    module_name, _, attr = KIND_BASES[kind].partition(":")
    base = getattr(importlib.import_module(module_name), attr)
    if not isinstance(base, type):  # pragma: no cover - KIND_BASES names classes
        raise TypeError(f"{KIND_BASES[kind]} is not a class")
    return base


_default: Registries | None = None
_default_lock = threading.Lock()


def default_registries() -> Registries:
    """The registries from the installed plugins (and ``XAI_EVAL_PLUGINS_DIR``), built once."""
    global _default
    with _default_lock:
        if _default is None:
            _default = build_registries()
        return _default


def reload_default_registries(plugins_dir: str | os.PathLike[str] | None = None) -> Registries:
    """Rebuild the default registries, e.g. after ``--plugins-dir`` on the command line."""
    global _default
    with _default_lock:
        _default = build_registries(plugins_dir=plugins_dir)
        return _default
