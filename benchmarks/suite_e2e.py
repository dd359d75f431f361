"""End to end: a whole suite run, its images/s and where the time goes.

Part ``end-to-end`` of ``benchmarks/suite.py`` (``python benchmarks/suite.py --part
end-to-end``). Two suites, each run from scratch into a fresh SQLite database with the
reports written, as ``xai-eval run`` does (the runner, then the summary and report files):

- (a) ``demo``: the demo suite (``xai_eval/suite/default.yaml``, every installed explainer
  and metric) on the cached embedded benchmark (``--demo-images``, default all 200);
- (b) ``resnet50``: torchvision ResNet-50 with random weights at 224x224 x {gradcam,
  guided_backprop, occlusion} x every installed metric (deletion/insertion, occlusion
  correlation and the randomisation test included) on ``--resnet-images`` images of the
  embedded benchmark, upsampled to 224 px by the runner (boxes and masks with them).

Printed per suite: wall and CPU seconds, images/s (images of the dataset through every
explainer and metric), the shares of the runner's own timings — explain (every
``explain *``), metrics, database (row writes), report (summary + files), the rest
(model loading, decoding, classification, setup) — and each metric's ms per map. The
runner's timings are wall clock; on a shared machine compare shares and CPU time, not
absolute wall time. The goals (issue 9) are metrics <= 25 % of the demo and <= 10 % of
the ResNet-50 case.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from xai_eval.plugins import default_registries
from xai_eval.suite.config import SuiteConfig, default_suite_path, load_suite, parse_suite
from xai_eval.suite.pipeline import summarize_run
from xai_eval.suite.report import write_reports
from xai_eval.suite.runner import RunOptions, SuiteRunner

R50_EXPLAINERS = ("gradcam", "guided_backprop", "occlusion")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The end-to-end part's options (on ``benchmarks/suite.py``'s parser)."""
    parser.add_argument("--demo-images", type=int, default=200,
                        help="end-to-end: images of the demo suite (default 200, the demo's)")
    parser.add_argument("--resnet-images", type=int, default=4,
                        help="end-to-end: images of the ResNet-50 suite (default 4; 0 skips it)")
    parser.add_argument("--resnet-model", default="resnet50",
                        help="end-to-end: the torchvision model of case (b) (default resnet50)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="end-to-end: keep the databases and reports in this folder")


def installed(config: SuiteConfig) -> SuiteConfig:
    """``config`` without the explainers/metrics that are not installed (as the demo does)."""
    registries = default_registries()
    return config.model_copy(update={
        "explainers": [e for e in config.explainers if e.name in registries.names("explainers")],
        "metrics": [m for m in config.metrics if m.name in registries.names("metrics")]})


def demo_config(images: int) -> SuiteConfig:
    """The demo suite, on its first ``images`` test images."""
    config = installed(load_suite(default_suite_path(), default_registries()))
    datasets = [d.model_copy(update={"limit": images}) for d in config.datasets]
    return config.model_copy(update={"datasets": datasets})


def resnet_config(images: int, model: str = "resnet50") -> SuiteConfig:
    """ResNet-50 (random weights) at 224 px x three explainers x every installed metric."""
    registries = default_registries()
    metrics = sorted(registries.names("metrics"))
    return installed(parse_suite({
        "name": "bench-resnet50", "seed": 0, "batch_size": 4, "topk": 5,
        "models": [{"id": model, "spec": f"{model}@random", "target_layer": "layer4"}],
        "explainers": list(R50_EXPLAINERS),
        "datasets": [{"id": "embedded-test", "format": "embedded",
                      "options": {"split": "test"}, "limit": images}],
        "metrics": metrics,
        "report": {"examples": 0},
    }))


def shares(timings: dict[str, float]) -> dict[str, float]:
    """The runner's timings in the four groups the goals name, plus the rest."""
    groups = {"explain": 0.0, "metrics": 0.0, "database": 0.0, "report": 0.0, "other": 0.0}
    for key, seconds in timings.items():
        if key.startswith("explain "):
            groups["explain"] += seconds
        elif key in ("metrics", "database", "report"):
            groups[key] += seconds
        elif not key.startswith("metric "):  # per-metric times are inside "metrics"
            groups["other"] += seconds
    return groups


def run_case(name: str, config: SuiteConfig, folder: Path) -> dict[str, Any]:
    """Run ``config`` from scratch in ``folder`` and write its reports, as ``xai-eval run``
    does (:func:`xai_eval.suite.pipeline.run_suite`'s two steps, timed apart)."""
    url = f"sqlite:///{(folder / f'{name}.db').resolve()}"
    registries = default_registries()
    tic, cpu = time.perf_counter(), time.process_time()
    outcome = SuiteRunner(config, registries, RunOptions(db_url=url, progress=False,
                                                         echo=lambda _m: None)).run()
    run_seconds = time.perf_counter() - tic
    summary, table = summarize_run(config, url, outcome.run_id, registries)
    write_reports(folder / name, table, summary, config, registries, None,
                  {"database": url, "run_seconds": run_seconds, "timings": outcome.timings})
    wall, cpu = time.perf_counter() - tic, time.process_time() - cpu
    timings = dict(outcome.timings)
    timings["report"] = wall - run_seconds  # summary from the database + every file
    images = sum(d.limit or 0 for d in config.datasets) * len(config.models)
    db_file = folder / f"{name}.db"
    return {"name": name, "wall": wall, "cpu": cpu, "images": images, "timings": timings,
            "db_bytes": db_file.stat().st_size if db_file.exists() else 0}


def maps_per_metric(config: SuiteConfig, folder: Path, name: str) -> dict[str, int]:
    """How many rows (maps scored) each metric wrote, read back from the database."""
    from sqlalchemy import func, select

    from xai_eval.db.base import make_engine, session_factory, session_scope
    from xai_eval.db.results import MetricResult

    engine = make_engine(f"sqlite:///{(folder / f'{name}.db').resolve()}")
    try:
        with session_scope(session_factory(engine)) as session:
            rows = session.execute(select(MetricResult.metric, func.count())
                                   .group_by(MetricResult.metric)).all()
    finally:
        engine.dispose()
    return {metric: int(count) for metric, count in rows}


def print_case(case: dict[str, Any], counts: dict[str, int]) -> None:
    timings = case["timings"]
    groups = shares(timings)
    total = sum(groups.values()) or 1.0
    print(f"\n== {case['name']}: {case['images']} images, {case['wall']:.1f} s wall, "
          f"{case['cpu']:.1f} s CPU, {case['images'] / case['wall']:.2f} images/s wall "
          f"({case['images'] / case['cpu']:.2f} per CPU-second); database "
          f"{case['db_bytes'] / 1e6:.2f} MB")
    print("  shares of the suite's time: " + ", ".join(
        f"{k} {100 * v / total:.1f} % ({v:.1f} s)" for k, v in groups.items()))
    print(f"  {'metric':<24} {'maps':>6} {'s total':>8} {'ms/map':>8}")
    for key, seconds in timings.items():
        if key.startswith("metric "):
            metric = key[len("metric "):]
            n = counts.get(metric, 0)
            per = f"{1e3 * seconds / n:8.2f}" if n else "       –"
            print(f"  {metric:<24} {n:>6} {seconds:>8.2f} {per}")


def main(args: argparse.Namespace) -> None:
    """Run both suites and print their tables."""
    cases = [("demo", demo_config(args.demo_images))]
    if args.resnet_images > 0:
        cases.append((args.resnet_model, resnet_config(args.resnet_images, args.resnet_model)))
    with tempfile.TemporaryDirectory(prefix="xai-eval-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for name, config in cases:
            case = run_case(name, config, folder)
            print_case(case, maps_per_metric(config, folder, name))
    print("\ntimings are the runner's wall clock per stage; the machine may be shared "
          "(compare shares and CPU seconds)")
