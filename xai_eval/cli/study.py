"""``xai-eval study ...``: build a study's stimuli, check a study file, list built studies,
their statistics and their answers (CSV), pilot a study with simulated participants."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from xai_eval.cli.options import DB_HELP
from xai_eval.errors import XaiEvalError


@click.group("study")
def study_group() -> None:
    """Human studies: build stimuli from a study file, check files, list built studies.

    The shipped definitions are studies/class_discrimination.yaml and studies/trust.yaml
    (the Grad-CAM paper's two studies on the embedded benchmark). After `study build`,
    run `xai-eval serve` and open /study/<slug>/. studies/model_prediction.yaml asks whether
    explanations help people predict the model; `study pilot` sizes it first.
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

    interactive = sys.stderr.isatty()
    shown = {"tenth": -1}

    def step(text: str) -> None:
        click.echo(f"study build: {text}", err=True)

    try:
        with Progress(transient=True, disable=not interactive) as bar:
            task = bar.add_task("rendering stimuli", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)
                tenth = 10 * done // max(total, 1)
                if not interactive and tenth > shown["tenth"]:  # a log line every 10%
                    shown["tenth"] = tenth
                    click.echo(f"study build: rendered {done}/{total} stimuli", err=True)

            report = build_study(file, db_url, replace=replace, progress=progress, step=step)
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
    from xai_eval.studies.admin_service import list_studies, progress

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


def _open_study(db_url: str | None, slug: str):  # -> (engine, session, study)
    from sqlalchemy import inspect

    from xai_eval.db.base import make_engine, session_factory
    from xai_eval.studies.admin_service import get_study

    try:
        engine = make_engine(db_url)
    except XaiEvalError as exc:
        raise click.ClickException(str(exc)) from None
    session = session_factory(engine)()
    try:
        if not inspect(engine).has_table("study"):
            raise click.ClickException("this database has no study tables; run "
                                       "`xai-eval study build FILE` first")
        return engine, session, get_study(session, slug)
    except BaseException as exc:
        session.close()
        engine.dispose()
        if isinstance(exc, XaiEvalError):
            raise click.ClickException(str(exc)) from None
        raise


@study_group.command("results")
@click.argument("slug")
@click.option("--db", "db_url", default=None, help=DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--seed", default=0, show_default=True, help="Seed of the cluster bootstrap.")
def results_command(slug: str, db_url: str | None, as_json: bool, seed: int) -> None:
    """Statistics of study SLUG per condition (explainer), from the analysable answers.

    Accuracy with Wilson 95% CI and an exact binomial test against chance (choice tasks),
    or the mean recoded rating with a participant-cluster bootstrap 95% CI and a Wilcoxon
    signed-rank test (rating tasks); Fleiss' kappa per condition; Mann-Whitney between
    conditions. Excluded participants (rule printed) are left out. Model-prediction studies
    add each explainer's utility against the control (Welch 95% CI) and the SHA-256 of the
    pre-registration.
    """
    import json

    from xai_eval.studies.admin_service import design_panel
    from xai_eval.studies.analysis import study_statistics
    from xai_eval.studies.monitoring import ExclusionRules

    engine, session, study = _open_study(db_url, slug)
    try:
        result = study_statistics(session, study, seed=seed)
        rule = ExclusionRules.from_study(study).describe()
        design = design_panel(session, study)
    finally:
        session.close()
        engine.dispose()
    rows = result.rows()
    comparisons = [c.__dict__ for c in result.comparisons]
    if as_json:
        click.echo(json.dumps({"study": slug, "task": result.task, "kind": result.kind,
                               "completed": result.completed, "included": result.included,
                               "exclusion_rule": rule, "conditions": rows,
                               "comparisons": comparisons,
                               "preregistration_sha256": design.preregistration_sha256,
                               **({"utility": design.utility.as_dict()} if design.utility
                                  else {})}, indent=2, default=str))
        return
    click.echo(f"{slug}: {result.included} of {result.completed} completed participants "
               f"analysed ({rule})")
    for row in rows:
        fields = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in row.items() if k != "condition")
        click.echo(f"  {row['condition']}: {fields}")
    for c in comparisons:
        click.echo(f"  {c['a']} vs {c['b']}: Mann-Whitney U={c['u_statistic']:.4g}, "
                   f"p={c['p_value']:.4g}")
    for u in design.utility.utilities if design.utility else []:
        interval = "n/a" if u.ci_low is None else f"{u.ci_low:+.3f} to {u.ci_high:+.3f}"
        p_value = "n/a" if u.p_value is None else f"{u.p_value:.4g}"
        click.echo(f"  utility {u.condition} vs {u.control}: {u.utility:+.3f} (95% CI "
                   f"{interval}, Welch p={p_value}, n={u.participants}/"
                   f"{u.control_participants})")
    for note in design.utility.notes if design.utility else []:
        click.echo(f"  note: {note}")
    click.echo(f"  pre-registration sha256: {design.preregistration_sha256}")


@study_group.command("export")
@click.argument("slug")
@click.option("--db", "db_url", default=None, help=DB_HELP)
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="CSV file to write (one row per stored answer).")
def export_command(slug: str, db_url: str | None, out: Path) -> None:
    """Write every stored answer of study SLUG to a CSV file (audited as an export).

    Columns: participant (internal id), trial order and kind, item, condition, raw answer,
    side mapping, correctness/score, response time. No platform ids are exported.
    """
    import csv
    import json

    from xai_eval.studies.admin_service import EXPORT_COLUMNS, export_responses

    engine, session, study = _open_study(db_url, slug)
    try:
        rows = export_responses(session, study, "cli", "csv")
    finally:
        session.close()
        engine.dispose()
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(EXPORT_COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v
                             for k, v in row.items()})
    click.echo(f"wrote {len(rows)} answers to {out}")



@study_group.command("preregistration")
@click.argument("slug")
@click.option("--db", "db_url", default=None, help=DB_HELP)
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the Markdown document here (default: print it).")
def preregistration_command(slug: str, db_url: str | None, out: Path | None) -> None:
    """The pre-registration of study SLUG as one Markdown document, and its SHA-256.

    Hypotheses, exclusion rules, the analysis plan and the frozen definition, rendered from
    the built study; the hash is the one the results exports and the admin page cite. The
    hypotheses come from the study file's `preregistration:` section; changing any of it
    after the first participant needs a new study version (a new slug).
    """
    from xai_eval.studies.admin_service import preregistration_document

    engine, session, study = _open_study(db_url, slug)
    try:
        document = preregistration_document(study)
    finally:
        session.close()
        engine.dispose()
    if out is None:
        click.echo(document.text)
    else:
        out.write_text(document.text, encoding="utf-8")
        click.echo(f"wrote {out}")
    click.echo(f"sha256: {document.sha256}", err=out is None)


@study_group.command("pilot")
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
    import json

    from xai_eval.cli.pilot_run import record_pilot, scratch_pilot
    from xai_eval.studies.definition import load_definition, task_class

    try:
        definition = load_definition(file)
        if not getattr(task_class(definition.task), "between_subjects", False):
            raise click.ClickException(
                f"task {definition.task!r} has no simulated participants; `study pilot` runs "
                "between-subjects model-prediction studies (task: model_prediction)")
        result = scratch_pilot(file, definition, participants, seed, alpha, power, noise,
                                lapse)
        stored = record_pilot(db_url, definition, result)
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
