"""Run a suite end to end: run (or resume, or reuse), summarise from SQL, print, export.

Shared by ``xai-eval run`` and ``xai-eval demo``, and usable from Python::

    from xai_eval.suite.pipeline import run_suite
    result = run_suite(load_suite("suite.yaml"), RunOptions(db_url=...), out_dir="out")
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from xai_eval.db.base import make_engine, session_factory
from xai_eval.plugins import Registries, default_registries
from xai_eval.suite.config import SuiteConfig
from xai_eval.suite.report import ReportFiles, write_reports
from xai_eval.suite.results import RunSummary, load_summary
from xai_eval.suite.runner import RunOptions, RunOutcome, SuiteRunner
from xai_eval.suite.tables import ResultTable, build_table, to_rich


@dataclass
class SuiteResult:
    outcome: RunOutcome
    summary: RunSummary | None
    table: ResultTable | None
    files: ReportFiles | None
    seconds: float  # wall clock, run + reports
    cpu_seconds: float = 0.0  # CPU time of this process (all threads), run + reports


def summarize_run(config: SuiteConfig, db_url: str, run_id: str, registries: Registries
                  ) -> tuple[RunSummary, ResultTable]:
    """Read a run back from the database and build its table."""
    summary, table, _analysis = summarize_and_analyse(config, db_url, run_id, registries,
                                                      analyse_rows=False)
    return summary, table


def summarize_and_analyse(config: SuiteConfig, db_url: str, run_id: str,
                          registries: Registries, analyse_rows: bool = True
                          ) -> tuple[RunSummary, ResultTable, tuple[Any, Any] | None]:
    """The summary, the table and (unless ``analyse_rows`` is False or
    ``report.resamples`` is 0) the intervals and verdict, from one read of the rows."""
    from xai_eval.suite import store

    engine = make_engine(db_url)
    try:
        factory = session_factory(engine)
        summary = load_summary(factory, run_id, config, registries)
        rows = store.result_rows(factory, run_id) if analyse_rows and \
            config.report.resamples > 0 else None
    finally:
        engine.dispose()
    table = build_table(summary, config)
    analysis = None
    if rows is not None:
        from xai_eval.suite.verdict_files import analyse

        analysis = analyse(rows, table, config, registries)
    return summary, table, analysis


def run_suite(config: SuiteConfig, options: RunOptions, out_dir: str | Path | None = None,
              registries: Registries | None = None, console: Any = None,
              write_files: bool | None = None,
              sections: Callable[[RunOutcome], list[tuple[str, str]]] | None = None
              ) -> SuiteResult:
    """Run ``config``; when the run is complete, print its table and write the reports.

    A shard whose peers are still working prints how far the run is and writes nothing;
    the last worker to finish (or a later ``--resume``) writes the reports. ``sections``
    computes extra (title, html) report sections from the finished run.
    """
    registries = registries or default_registries()
    tic, cpu = time.perf_counter(), time.process_time()
    outcome = SuiteRunner(config, registries, options).run()
    seconds = time.perf_counter() - tic
    if not outcome.complete:
        options.echo(f"run {outcome.run_id}: this worker is done ({outcome.units_written} units "
                     "written); other shards are still missing. Rerun with --resume after they "
                     "finish to print the table and write the reports.")
        return SuiteResult(outcome, None, None, None, seconds, time.process_time() - cpu)
    tic_stats = time.perf_counter()
    summary, table, analysis = summarize_and_analyse(config, outcome.db_url, outcome.run_id,
                                                     registries)
    stats_seconds = time.perf_counter() - tic_stats
    tic_reliability, cpu_reliability = time.perf_counter(), time.process_time()
    if analysis is not None and config.report.reliability > 0:
        from xai_eval.errors import XaiEvalError
        from xai_eval.suite.reliability import metric_reliability

        try:
            analysis[1].reliability = metric_reliability(config, registries, options.base_dir,
                                                         config.report.reliability)
        except XaiEvalError as exc:  # an illustration must not lose the numbers
            analysis[1].notes.append(f"metric reliability failed: {exc}")
    reliability_seconds = (time.perf_counter() - tic_reliability,
                           time.process_time() - cpu_reliability)
    if console is not None:
        if analysis is not None:
            from xai_eval.suite.verdict import verdict_rich

            for renderable in verdict_rich(analysis[1]):
                console.print(renderable)
        for rich_table in to_rich(table):
            console.print(rich_table)
        if summary.skipped_images or summary.skipped_pairs:
            console.print(f"skipped: {len(summary.skipped_images)} image(s), "
                          f"{len(summary.skipped_pairs)} (model, explainer, dataset) pair(s) "
                          "— see the report")
        if summary.metric_warnings:
            console.print(f"{len(summary.metric_warnings)} metric warning(s) — see the report")
    files = None
    if out_dir is not None and write_files is not False:
        tic_report = time.perf_counter()
        timings = dict(outcome.timings)
        timings["intervals and verdict"] = stats_seconds
        if config.report.reliability > 0:
            timings["metric reliability"] = reliability_seconds[0]
            timings["metric reliability (CPU)"] = reliability_seconds[1]
        meta = {"database": make_url(outcome.db_url).render_as_string(hide_password=True),
                "run_seconds": seconds, "run_cpu_seconds": time.process_time() - cpu,
                "timings": timings, "reused": outcome.reused,
                "sections": sections(outcome) if sections is not None else []}
        files = write_reports(out_dir, table, summary, config, registries, options.base_dir,
                              meta, analysis)
        timings["report"] = time.perf_counter() - tic_report
    return SuiteResult(outcome, summary, table, files, time.perf_counter() - tic,
                       time.process_time() - cpu)
