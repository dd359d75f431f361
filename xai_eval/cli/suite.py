"""The metric-suite commands: ``xai-eval run`` and ``xai-eval demo``."""

from __future__ import annotations

import time
from pathlib import Path

import click

from xai_eval.errors import XaiEvalError


def _console():
    """A rich console; when output is piped, wide enough that the table is not wrapped."""
    import sys

    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=220)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@click.command("run")
@click.argument("suite", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", "db_url", default=None, metavar="URL",
              help="SQLAlchemy database URL (default: $XAI_EVAL_DATABASE_URL, else "
                   "sqlite:///xai-eval.db in the current folder).")
@click.option("--resume", is_flag=True,
              help="Continue a run with the same configuration: skip every (model, "
                   "explainer, dataset, image) unit already stored.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder for results.csv/.json/.md and report.html "
                                 "(default: xai-eval-results/<suite name>).")
@click.option("--shard", default=None, metavar="i/n",
              help="Process only shard i of n (0-based; images split by a hash of their id). "
                   "Default: torchrun's RANK/WORLD_SIZE when set, else everything.")
@click.option("--name", "run_name", default=None,
              help="Run name (part of the run id): the same config under a new name is a "
                   "separate run. Default: the suite's `name`.")
@click.option("--methods", type=click.Choice(["paper", "all"]), default=None,
              help="Override the suite's `methods:` switch: 'paper' (its explainers) or 'all' "
                   "(plus its more_explainers).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bars.")
def run_command(suite: Path, db_url: str | None, resume: bool, out_dir: Path | None,
                shard: str | None, run_name: str | None, methods: str | None,
                no_progress: bool) -> None:
    """Run a metric suite: models x explainers x datasets x metrics.

    SUITE is a YAML file (see docs/suites.md). Every per-image result is written to the
    database as it is produced, so a killed run continues with --resume. A run is
    identified by a hash of its resolved configuration plus its name: rerunning a
    completed run without --resume prints its stored results; rerunning an incomplete one
    without --resume is an error that says so. When the run is complete the Grad-CAM-paper
    style table is printed and CSV/JSON/Markdown/HTML reports are written to --out.
    """
    from xai_eval.plugins import default_registries
    from xai_eval.suite.config import load_suite
    from xai_eval.suite.pipeline import run_suite
    from xai_eval.suite.runner import RunOptions
    from xai_eval.suite.sharding import parse_shard

    try:
        registries = default_registries()
        config = load_suite(suite, registries, methods)
        options = RunOptions(db_url=db_url, resume=resume, shard=parse_shard(shard),
                             run_name=run_name, progress=not no_progress,
                             base_dir=suite.resolve().parent, echo=click.echo)
        out = out_dir or Path("xai-eval-results") / config.name
        result = run_suite(config, options, out, registries, _console())
    except XaiEvalError as exc:
        raise _fail(exc) from None
    if result.files is not None:
        click.echo(f"run {result.outcome.run_id}: reports in {result.files.html.parent} "
                   f"(report.html, results.csv/.json/.md); {result.seconds:.1f} s "
                   f"({result.cpu_seconds:.1f} s CPU)")


@click.command("demo")
@click.option("--db", "db_url", default=None, metavar="URL",
              help="Database URL (default: $XAI_EVAL_DATABASE_URL, else "
                   "sqlite:///<out>/xai-eval-demo.db).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None,
              help="Folder for the reports and the default SQLite database "
                   "(default: xai-eval-demo; xai-eval-demo-v1 with --benchmark v1; "
                   "xai-eval-real with --real).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the embedded benchmark is cached (default: $XAI_EVAL_CACHE or "
                   "~/.cache/xai-eval).")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="torch CPU threads. The benchmark's 64-px tensors are tiny: one thread "
                   "beats two (fresh demo on 2 shared cores: 3 min vs 7 min).")
@click.option("--real", is_flag=True,
              help="Explain real photos with a real pretrained model instead: "
                   "EfficientNet-Lite0 (ImageNet weights) on foolbox's 20 labelled ImageNet "
                   "photos, every installed explainer, top-1/top-5 accuracy, deletion/"
                   "insertion and an image grid (needs pip install 'xai-eval[real]').")
@click.option("--benchmark", type=click.Choice(["v2", "v1"]), default="v2", show_default=True,
              help="v2: 112-px images with ILSVRC-like object scale, evidence masks and "
                   "shipped weights (no training); v1: the original 64-px benchmark, "
                   "trained on first use (kept for comparison).")
@click.option("--retrain", is_flag=True,
              help="v2: train the two classifiers on this machine (into the cache) instead "
                   "of using the shipped, hash-checked weights; the table then usually "
                   "differs from the committed reference, and the demo says by how much.")
@click.option("--methods", type=click.Choice(["paper", "all"]), default="paper",
              show_default=True,
              help="'paper': the papers' methods (the reproduced table); 'all': also every "
                   "method of the explainer zoo (Grad-CAM++, Score-CAM, RISE, IG, ...).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bars.")
def demo_command(db_url: str | None, out_dir: Path | None, cache_dir: Path | None,
                 threads: int, real: bool, benchmark: str, retrain: bool, methods: str,
                 no_progress: bool) -> None:
    """Run the default suite on the embedded benchmark and print its table.

    With --real, run the packaged real.yaml suite instead (nothing is trained or
    downloaded; the model and photos come with the [real] extra).

    The default benchmark (v2) draws its test images on first use and uses the shipped,
    hash-checked weights of its two classifiers (a GAP model for CAM and a fully
    connected one); v1 generates its data and trains its models on first use. Then it
    scores CAM, Grad-CAM, backprop, guided backprop, guided Grad-CAM, deconvnet and
    whatever else is installed, with localization error, pointing game, MaxBoxAccV2,
    PxAP, mask IoU and deletion/insertion (v2: also against the evidence part), prints
    whether the table matches the committed reference (v2) and checks the papers' claims
    with 95 % intervals. A killed demo continues where it stopped.
    """
    import os

    import torch

    from xai_eval.db.base import ENV_VAR
    from xai_eval.plugins import default_registries
    from xai_eval.suite.config import load_suite
    from xai_eval.suite.pipeline import run_suite
    from xai_eval.suite.runner import RunOptions

    torch.set_num_threads(threads)
    if real:
        _real_demo(db_url, out_dir or Path("xai-eval-real"), no_progress)
        return
    out_dir = out_dir or Path("xai-eval-demo" if benchmark == "v2" else "xai-eval-demo-v1")
    tic, cpu = time.perf_counter(), time.process_time()
    try:
        from xai_eval.suite.demo_benchmark import ClaimsSection, prepare, suite_path

        if cache_dir is not None:
            os.environ["XAI_EVAL_CACHE"] = str(cache_dir)
        ready = prepare(benchmark, cache_dir, progress=not no_progress, retrain=retrain)
        prepared, prepared_cpu = time.perf_counter() - tic, time.process_time() - cpu
        click.echo(f"{ready} — in {prepared:.1f} s, {prepared_cpu:.1f} s CPU")
        registries = default_registries()
        config = load_suite(suite_path(benchmark), registries, methods)
        config = _only_installed(config, registries)
        url = db_url or os.environ.get(ENV_VAR) or f"sqlite:///{(out_dir / 'xai-eval-demo.db').resolve()}"
        options = RunOptions(db_url=url, resume=True, progress=not no_progress,
                             echo=click.echo,
                             run_name=f"{config.name}-retrained" if retrain else None)
        claims = ClaimsSection([m.id for m in config.models], [e.id for e in config.explainers])
        result = run_suite(config, options, out_dir, registries, _console(), sections=claims)
    except XaiEvalError as exc:
        raise _fail(exc) from None
    if benchmark == "v2" and result.files is not None:
        from xai_eval.suite.reference import compare_file

        comparison = compare_file(result.files.csv)
        if comparison is not None:
            click.echo(comparison.message())
    if claims.markdown:
        click.echo("\nThe papers' claims on this benchmark (95 % intervals):\n" + claims.markdown)
        (out_dir / "claims.md").write_text(claims.markdown, encoding="utf-8")
    total, total_cpu = time.perf_counter() - tic, time.process_time() - cpu
    click.echo(f"demo finished in {total:.1f} s, {total_cpu:.1f} s CPU (benchmark "
               f"{prepared:.1f} s, suite and reports {result.seconds:.1f} s / "
               f"{result.cpu_seconds:.1f} s CPU); report: {out_dir / 'report.html'}")


def _real_demo(db_url: str | None, out_dir: Path, no_progress: bool) -> None:
    """``demo --real``: the packaged real.yaml suite, with a clear error without the extra."""
    import os

    from xai_eval.db.base import ENV_VAR
    from xai_eval.models.real import INSTALL_HINT, real_extra_available
    from xai_eval.plugins import default_registries
    from xai_eval.suite.config import load_suite, real_suite_path
    from xai_eval.suite.pipeline import run_suite
    from xai_eval.suite.runner import RunOptions

    missing = real_extra_available()
    if missing is not None:
        raise click.ClickException(f"demo --real needs the optional extra: {missing} "
                                   f"(install with: {INSTALL_HINT})")
    try:
        registries = default_registries()
        config = _only_installed(load_suite(real_suite_path(), registries), registries)
        url = db_url or os.environ.get(ENV_VAR) or f"sqlite:///{(out_dir / 'xai-eval-real.db').resolve()}"
        options = RunOptions(db_url=url, resume=True, progress=not no_progress, echo=click.echo)
        result = run_suite(config, options, out_dir, registries, _console())
    except XaiEvalError as exc:
        raise _fail(exc) from None
    accuracy = result.summary.values if result.summary is not None else {}
    for (dataset, model, explainer, metric), values in sorted(accuracy.items()):
        if not explainer and metric == "classification" and values.get("top1_accuracy") is not None:
            click.echo(f"{model} on {dataset}: top-1 accuracy {values['top1_accuracy']:.1f}%, "
                       f"top-5 {values['top5_accuracy']:.1f}% ({values.get('n')} photos)")
    click.echo(f"real demo finished in {result.seconds:.1f} s ({result.cpu_seconds:.1f} s CPU); "
               f"report: {out_dir / 'report.html'}")


def _only_installed(config, registries):
    """The default suite lists optional explainers/metrics; keep the installed ones."""
    explainers = [e for e in config.explainers if e.name in registries.names("explainers")]
    metrics = [m for m in config.metrics if m.name in registries.names("metrics")]
    dropped = sorted({e.name for e in config.explainers} - {e.name for e in explainers}
                     | {m.name for m in config.metrics} - {m.name for m in metrics})
    if dropped:
        click.echo(f"note: not installed, left out of the demo: {', '.join(dropped)}")
    return config.model_copy(update={"explainers": explainers, "metrics": metrics})
