"""``xai-eval study ...``: build a study's stimuli, check a study file, list built studies.

Registered by :mod:`xai_eval.web.commands` through :func:`register_study_commands`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from xai_eval.errors import XaiEvalError

DB_HELP = ("Database URL (default: $XAI_EVAL_DATABASE_URL, else sqlite:///xai-eval.db). "
           "PostgreSQL: postgresql+psycopg://user@host:5432/name")


@click.group("study")
def study_group() -> None:
    """Human studies: build stimuli from a study file, check files, list built studies.

    The shipped definitions are studies/class_discrimination.yaml and studies/trust.yaml
    (the Grad-CAM paper's two studies on the embedded benchmark). After `study build`,
    run `xai-eval serve` and open /study/<slug>/.
    """


@study_group.command("build")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", "db_url", default=None, help=DB_HELP)
@click.option("--replace", is_flag=True,
              help="Rebuild a study whose definition changed (only while nobody has started it).")
def build_command(file: Path, db_url: str | None, replace: bool) -> None:
    """Render FILE's stimuli with the explainer plugins and store them with provenance.

    Applies the database migrations, picks the qualifying items with the study's task
    plugin, renders each visualization once (PNG + SHA-256) and writes study, stimuli and
    items in one transaction. Idempotent: building the same file again adds nothing; a
    changed file under the same slug is reported and left alone unless --replace.
    """
    from rich.progress import Progress

    from xai_eval.studies.build import build_study

    try:
        with Progress(transient=True) as bar:
            task = bar.add_task("rendering stimuli", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = build_study(file, db_url, replace=replace, progress=progress)
    except XaiEvalError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(report.summary())
    if report.changed and not report.replaced:
        sys.exit(1)


@study_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def check_command(file: Path) -> None:
    """Validate FILE (schema and plugin names) without rendering anything."""
    from xai_eval.studies.definition import load_definition

    try:
        definition = load_definition(file)
    except XaiEvalError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    params = definition.parameters.model_dump()
    click.echo(f"{file}: study {definition.slug!r}, task {definition.task!r}, "
               f"{len(definition.explainers)} explainers, {len(definition.models)} models")
    for key in sorted(params):
        click.echo(f"  {key}: {params[key]}")


@study_group.command("list")
@click.option("--db", "db_url", default=None, help=DB_HELP)
def list_command(db_url: str | None) -> None:
    """List the built studies with their status and live progress."""
    from xai_eval.db.base import make_engine, session_factory
    from xai_eval.studies.service import list_studies, progress

    try:
        engine = make_engine(db_url)
    except XaiEvalError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    try:
        from sqlalchemy import inspect

        if not inspect(engine).has_table("study"):
            click.echo("error: this database has no study tables; run `xai-eval db upgrade` "
                       "(or `xai-eval study build FILE`) first", err=True)
            sys.exit(2)
        with session_factory(engine)() as session:
            for study in list_studies(session):
                p = progress(session, study)
                people = ", ".join(f"{n} {s}" for s, n in sorted(p.participants.items()))
                click.echo(f"{study.slug}\t{study.task}\t{study.status}\t"
                           f"{p.main_items} items\t{p.responses} answers\t{people or '-'}")
    finally:
        engine.dispose()


def register_study_commands(group: click.Group) -> None:
    """Add the ``study`` command group to ``group`` (the ``xai-eval`` main group)."""
    group.add_command(study_group)
