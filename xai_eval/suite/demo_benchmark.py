"""Which embedded benchmark ``xai-eval demo`` runs, and getting it ready.

v2 (the default) needs no training: its test images are drawn on first use (integer
drawing, identical on every machine) and its classifiers are the shipped, hash-checked
weights. v1 (``--benchmark v1``, kept for comparison) generates its data and trains its
two models on first use, as before.
"""

from __future__ import annotations

import os
from pathlib import Path

from xai_eval.suite.config import default_suite_path

BENCHMARKS = ("v2", "v1")


def suite_path(benchmark: str) -> Path:
    """The packaged demo suite of ``benchmark``."""
    if benchmark == "v1":
        return default_suite_path()
    if benchmark == "v2":
        return default_suite_path().with_name("default_v2.yaml")
    raise ValueError(f"benchmark must be one of {BENCHMARKS}, not {benchmark!r}")


def prepare(benchmark: str, cache_dir: str | os.PathLike[str] | None, progress: bool,
            retrain: bool = False) -> str:
    """Generate/train what ``benchmark`` needs; returns a one-line description for the user.

    ``retrain`` (v2) trains the gap and fc models on this machine into
    ``<cache>/embedded-v2-retrained`` and uses them instead of the shipped weights.
    """
    if benchmark == "v1":
        from xai_eval.models.embedded import ensure_embedded_benchmark

        bench = ensure_embedded_benchmark(cache_dir, progress=progress)
        accuracies = ", ".join(f"{k} {100 * v:.1f}%" for k, v in bench.accuracies.items())
        return f"embedded benchmark v1 ready ({bench.root}); held-out accuracy: {accuracies}"
    from xai_eval.data.embedded import cache_root
    from xai_eval.data.embedded_v2 import ensure_v2_data
    from xai_eval.models.embedded_v2 import WEIGHTS_ENV, manifest, weights_path

    root = ensure_v2_data(("test",), cache_dir, progress=progress)
    if retrain:
        from xai_eval.models.ship_embedded import ship

        folder = cache_root(cache_dir) / "embedded-v2-retrained"
        ship(("gap", "fc"), folder, progress=progress)
        os.environ[WEIGHTS_ENV] = str(folder)
    models = manifest()["models"]
    for kind in ("gap", "fc"):
        weights_path(kind)  # hash check now, not halfway through the run
    accuracies = ", ".join(f"{k} {100 * models[k]['test_accuracy']:.1f}%" for k in ("gap", "fc"))
    without = ", ".join(f"{k} {100 * models[k]['test_accuracy_without_evidence']:.1f}%"
                        for k in ("gap", "fc"))
    return (f"embedded benchmark v2 ready ({root}; shipped weights, hash-checked); held-out "
            f"accuracy: {accuracies}; with the evidence part removed: {without}")


class ClaimsSection:
    """Computes the papers' claims from a finished run; keeps the Markdown for the console."""

    def __init__(self, models: list[str], explainers: list[str]) -> None:
        self.models, self.explainers = models, explainers
        self.markdown = ""

    def __call__(self, outcome) -> list[tuple[str, str]]:
        from xai_eval.db.base import make_engine, session_factory
        from xai_eval.suite import store
        from xai_eval.suite.claims import check_claims, to_html, to_markdown

        engine = make_engine(outcome.db_url)
        try:
            rows = store.result_rows(session_factory(engine), outcome.run_id)
        finally:
            engine.dispose()
        claims = check_claims(rows, self.models, self.explainers)
        self.markdown = to_markdown(claims)
        intro = ("<p>Each claim is decided from the per-image results: agreement share with a "
                 "Wilson 95 % interval, or a difference (points) with a paired bootstrap 95 % "
                 "interval (1000 resamples, seed 0; xai_eval.stats). <i>agrees</i>: the interval lies on the "
                 "claim's side of 0; <i>inconclusive</i>: it contains 0.</p>")
        return [("The papers' claims on this benchmark", intro + to_html(claims))]
