"""Every hook a xai-eval plugin can implement.

A plugin is any module (or object) with functions marked ``@xai_eval.hookimpl`` whose names
match the functions below. Each hook is a *list hook*: every plugin contributes, and the
core merges the returned classes into registries keyed by the class's ``name`` attribute.
A duplicate name is reported as an error naming both plugins (see :mod:`xai_eval.plugins`).

Implementations may accept fewer arguments than the spec ("opt-in arguments"); the core
always calls hooks with keyword arguments so new parameters can be added later.

The documentation in ``docs/plugins.md`` must list every hook below with its exact
signature; ``tests/plugins/test_plugin_meta.py`` checks that it does, and that every hook
is exercised by a test.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("xai_eval")
#: the marker plugins put on their implementations (re-exported as ``xai_eval.hookimpl``)
hookimpl = pluggy.HookimplMarker("xai_eval")


@hookspec
def xai_eval_register_explainers() -> list[type[Any]]:
    """Return explainer classes: subclasses of :class:`xai_eval.explain.base.Explainer`.

    Each class needs a unique ``name`` (what users pass to ``get_explainer``) and a
    docstring whose first line is the one-line summary ``xai-eval plugins`` shows.
    """


@hookspec
def xai_eval_register_metrics() -> list[type[Any]]:
    """Return metric classes: subclasses of :class:`xai_eval.metrics.base.Metric`.

    Each class needs a unique ``name`` (what a suite YAML lists under ``metrics``).
    """


@hookspec
def xai_eval_register_datasets() -> list[type[Any]]:
    """Return dataset adapter classes: subclasses of :class:`xai_eval.data.base.Dataset`.

    Each class needs a unique ``name`` (the ``format`` a suite YAML names, e.g. ``coco``).
    """


@hookspec
def xai_eval_register_models() -> list[type[Any]]:
    """Return model source classes: subclasses of :class:`xai_eval.models.base.ModelSource`.

    Each class needs a unique ``name``; it resolves a model specification string (such as
    ``resnet50@/path/w.pth``) into a network plus its preprocessing.
    """


@hookspec
def xai_eval_register_study_tasks() -> list[type[Any]]:
    """Return human-study task classes: subclasses of :class:`xai_eval.studies.tasks.StudyTask`.

    Each class needs a unique ``name`` (the ``task`` a study YAML names).
    """
