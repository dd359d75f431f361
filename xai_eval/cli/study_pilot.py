"""``xai-eval study pilot FILE``: simulated participants through the real app, then power.

The study is built into a scratch SQLite database (the real one never sees simulated
participants); the web app is created on it and each model observer
(:mod:`xai_eval.studies.pilot`) takes the study through the participant JSON API with its
own Flask test client (own cookies, CSRF token and client address), exactly as a browser
would. The expected effect sizes and the participants each condition needs are printed and,
when the study is built in ``--db`` from the same definition, stored in its audit log so
the admin page shows them before the study opens.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from xai_eval.cli.options import DB_HELP
from xai_eval.errors import XaiEvalError


def _scratch_pilot(file: Path, definition: Any, per_condition: int, seed: int, alpha: float,
                   power: float, noise: float, lapse: float) -> Any:
    from rich.progress import Progress

    from xai_eval.db.base import make_engine, session_factory
    from xai_eval.studies.admin_service import get_study
    from xai_eval.studies.build import build_study
    from xai_eval.studies.catalog import task_for
    from xai_eval.studies.pilot import run_pilot
    from xai_eval.studies.utility import study_utility
    from xai_eval.web.app import create_app
    from xai_eval.web.database import binding

    with tempfile.TemporaryDirectory(prefix="xai-eval-pilot-") as tmp, \
            Progress(transient=True) as bar:
        url = f"sqlite:///{Path(tmp) / 'pilot.db'}"
        rendering = bar.add_task("building the study (scratch database)", total=None)
        build_study(file, url, definition=definition,
                    progress=lambda d, t: bar.update(rendering, completed=d, total=t))
        engine = make_engine(url)
        factory = session_factory(engine)
        with factory() as session:
            conditions = len(getattr(task_for(get_study(session, definition.slug)),
                                     "conditions", []))
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(16),
                          "TESTING": True})
        app.instance_path = tmp
        clients = iter(range(1, 1 << 30))

        def new_client() -> Any:
            number = next(clients)
            client = app.test_client()
            client.environ_base["REMOTE_ADDR"] = f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"
            return client

        def report() -> Any:
            with factory() as session:
                return study_utility(session, get_study(session, definition.slug))

        taking = bar.add_task("simulated participants", total=per_condition * conditions)
        try:
            return run_pilot(new_client, definition.slug, per_condition * conditions, report,
                             seed=seed, alpha=alpha, power=power, noise=noise, lapse=lapse,
                             progress=lambda d, t: bar.update(taking, completed=d, total=t))
        finally:
            binding(app).engine.dispose()
            engine.dispose()


def _record(db_url: str | None, definition: Any, result: Any) -> str:
    """Store the pilot in the real database's audit log when the same study is built there."""
    from sqlalchemy import inspect, select

    from xai_eval.db.base import make_engine, session_factory
    from xai_eval.db.studies import Study
    from xai_eval.studies.admin_service import record_audit

    engine = make_engine(db_url)
    try:
        if not inspect(engine).has_table("study"):
            return "not stored: that database has no studies yet (build the study first)"
        with session_factory(engine)() as session:
            study = session.scalar(select(Study).where(Study.slug == definition.slug))
            if study is None:
                return f"not stored: study {definition.slug!r} is not built in that database"
            if study.definition_hash != definition.canonical_hash():
                return "not stored: the built study has a different definition"
            record_audit(session, "cli", "study_pilot", study,
                         {"definition_hash": study.definition_hash, **result.as_dict(),
                          "lines": result.lines()})
            return f"stored with study {definition.slug!r} (shown on its admin page)"
    finally:
        engine.dispose()


@click.command("pilot")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--participants", default=20, show_default=True, type=click.IntRange(2, 1000),
              help="Simulated participants per condition.")
@click.option("--db", "db_url", default=None,
              help="Where the study is built, to store the pilot with it. " + DB_HELP)
@click.option("--seed", default=0, show_default=True, help="Seed of the simulated observers.")
@click.option("--alpha", default=0.05, show_default=True, type=click.FloatRange(0.0001, 0.5))
@click.option("--power", default=0.8, show_default=True, type=click.FloatRange(0.5, 0.999))
@click.option("--noise", default=0.15, show_default=True, type=click.FloatRange(0, 10),
              help="Feature noise of an observer (participants differ).")
@click.option("--lapse", default=0.1, show_default=True, type=click.FloatRange(0, 1),
              help="Share of test answers an observer guesses at random.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def pilot_command(file: Path, participants: int, db_url: str | None, seed: int, alpha: float,
                  power: float, noise: float, lapse: float, as_json: bool) -> None:
    """Pilot FILE with simulated participants; print effect sizes and participants needed.

    Model observers (a nearest-class-mean classifier trained only on what a participant
    sees in the training phase, with or without the explanation) take the study end to end
    through the participant API of the real app on a scratch database. Their test
    accuracies give each explainer's utility and Cohen's d against the control, and a
    power analysis (statsmodels TTestIndPower, two-sided) the participants per condition.
    Model-prediction studies only (between-subjects conditions).
    """
    from xai_eval.studies.definition import load_definition, task_class

    try:
        definition = load_definition(file)
        if not getattr(task_class(definition.task), "between_subjects", False):
            raise click.ClickException(
                f"task {definition.task!r} has no simulated participants; `study pilot` runs "
                "between-subjects model-prediction studies (task: model_prediction)")
        result = _scratch_pilot(file, definition, participants, seed, alpha, power, noise,
                                lapse)
        stored = _record(db_url, definition, result)
    except XaiEvalError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps({"study": definition.slug, "stored": stored, **result.as_dict()},
                              indent=2, default=str))
        return
    click.echo(f"pilot of {definition.slug!r} ({file}):")
    for line in result.lines():
        click.echo(line)
    click.echo(f"pilot {stored}")
