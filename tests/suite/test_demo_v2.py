"""The v2 demo suite end to end on a few images: evidence metrics, claims, identical files.

The full demo (200 images) is measured, not tested; here 6 test images, four explainers
and the cheap metrics run twice — with 1 and 2 torch threads and two cache folders — and
must write byte-identical results.csv (the issue's "same numbers everywhere" on a tiny
subset).
"""

from __future__ import annotations

import torch

from xai_eval.data.embedded_v2 import GeneratorConfigV2, ensure_v2_data
from xai_eval.plugins import default_registries
from xai_eval.suite.config import load_suite
from xai_eval.suite.demo_benchmark import ClaimsSection, suite_path
from xai_eval.suite.pipeline import run_suite
from xai_eval.suite.reference import compare
from xai_eval.suite.runner import RunOptions

KEEP_EXPLAINERS = {"cam", "gradcam", "backprop", "center"}


def _mini(registries, root):
    config = load_suite(suite_path("v2"), registries)
    # the first images of a split do not depend on the split's size: a 6-image split is the
    # demo's first 6 images
    datasets = [d.model_copy(update={"limit": 6, "root": str(root)}) for d in config.datasets]
    explainers = [e for e in config.explainers if e.name in KEEP_EXPLAINERS]
    metrics = [m for m in config.metrics if m.name not in ("deletion", "insertion", "max_box_acc", "pxap")]
    return config.model_copy(update={"datasets": datasets, "explainers": explainers, "metrics": metrics})


def _run(tmp_path, name, threads):
    root = ensure_v2_data(("test",), tmp_path / f"cache-{name}", GeneratorConfigV2(test=6),
                          progress=False)
    registries = default_registries()
    config = _mini(registries, root)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        claims = ClaimsSection([m.id for m in config.models], [e.id for e in config.explainers])
        options = RunOptions(db_url=f"sqlite:///{tmp_path / name}.db", progress=False, echo=lambda _m: None)
        result = run_suite(config, options, tmp_path / name, registries, sections=claims)
    finally:
        torch.set_num_threads(before)
    return result, claims


def test_mini_v2_demo_is_identical_across_threads_and_caches(tmp_path):
    first, claims = _run(tmp_path, "one", 1)
    second, _ = _run(tmp_path, "two", 2)
    csv_one = first.files.csv.read_text()
    assert csv_one == second.files.csv.read_text()
    assert compare(csv_one, second.files.csv.read_text()).identical
    header = csv_one.splitlines()[0]
    assert "pointing_game_evidence" in header or "evidence" in header
    values = first.summary.values
    evidence = [v for (d, m, e, metric), v in values.items() if metric == "pointing_game_evidence"]
    objects = [v for (d, m, e, metric), v in values.items() if metric == "pointing_game"]
    assert len(evidence) == len(objects) > 0
    assert "CAM = Grad-CAM on a GAP net" in claims.markdown
    assert "claims on this benchmark" in first.files.html.read_text()
