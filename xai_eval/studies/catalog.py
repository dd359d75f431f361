"""Finding built studies and their task plugin: the lookups both services share.

Both the participant service and the admin service start from a study by slug; the
statistics need the study's task (its response kind and chance level). Nothing here
writes.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from xai_eval.db.studies import Study
from xai_eval.studies.errors import StudyNotFoundError
from xai_eval.studies.tasks import StudyTask

#: Task objects kept at most (one per distinct definition; a server has a handful).
_TASK_CACHE_SIZE = 256
_TASKS: dict[str, StudyTask] = {}


def get_study(session: Session, slug: str) -> Study:
    """The study built under ``slug``, or :class:`StudyNotFoundError`."""
    study = session.scalar(select(Study).where(Study.slug == slug))
    if study is None:
        raise StudyNotFoundError(f"no study named {slug!r}; build it with `xai-eval study build`")
    return study


def list_studies(session: Session) -> list[Study]:
    """Every built study, oldest first."""
    return list(session.scalars(select(Study).order_by(Study.id)))


def open_studies(session: Session) -> list[Study]:
    """The studies that accept participants now (status ``open``), oldest first."""
    return list(session.scalars(select(Study).where(Study.status == "open").order_by(Study.id)))


def task_for(study: Study) -> StudyTask:
    """The task plugin object of ``study`` (from its stored definition; cached by the
    definition's hash, so a request does not re-validate the YAML)."""
    from xai_eval.studies.definition import StudyDefinition, task_class

    task = _TASKS.get(study.definition_hash)
    if task is None:
        definition = StudyDefinition.model_validate(study.definition)
        task = task_class(definition.task)(definition)
        if len(_TASKS) > _TASK_CACHE_SIZE:
            _TASKS.clear()
        _TASKS[study.definition_hash] = task
    return task
