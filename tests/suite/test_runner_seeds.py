"""Per-sample random streams in the runner: the same rows whatever the batch or shard."""

from __future__ import annotations

import torch

from xai_eval.db.base import make_engine, session_factory
from xai_eval.suite import store
from xai_eval.suite.config import parse_suite
from xai_eval.suite.runner import RunOptions, SuiteRunner
from xai_eval.suite.sharding import Shard

from .conftest import suite_dict

NOISY = {"name": "fake_hit", "id": "noisy", "params": {"noise": 0.5}}


def noisy_suite(root, metrics=None, **overrides):
    settings = {"models": [{"id": "gap", "spec": "fake:gap"}], "explainers": ["gradcam"],
                "metrics": metrics or [NOISY], **overrides}
    return parse_suite(suite_dict(root, **settings))


def run_rows(config, registries, url, name, **options):
    runner = SuiteRunner(config, registries, RunOptions(db_url=url, progress=False,
                                                        echo=lambda _m: None, run_name=name,
                                                        **options))
    outcome = runner.run()
    rows = store.result_rows(session_factory(make_engine(url)), outcome.run_id)
    # the draws only: a map (hence "peak") may differ in the last float32 bit between
    # batch sizes (the explainer's kernels), which is no matter of the random streams
    return outcome, [(r["image_id"], r["class_id"], r["values"]["draw"]) for r in rows
                     if r["metric"] == "noisy"]


def test_batch_size_and_shards_do_not_change_random_draws(sqlite_url, registries, dataset_root):
    _, reference = run_rows(noisy_suite(dataset_root, batch_size=3), registries, sqlite_url, "b3")
    _, other_batch = run_rows(noisy_suite(dataset_root, batch_size=4), registries, sqlite_url,
                              "b4")
    config = noisy_suite(dataset_root, batch_size=2)
    run_rows(config, registries, sqlite_url, "sharded", shard=Shard(0, 2))
    outcome, sharded = run_rows(config, registries, sqlite_url, "sharded", shard=Shard(1, 2))
    assert outcome.complete
    # another stochastic metric scored before it draws from its own streams
    _, crowded = run_rows(noisy_suite(dataset_root, metrics=[
        {"name": "fake_hit", "id": "first", "params": {"noise": 2.0}}, NOISY]),
        registries, sqlite_url, "crowded")
    assert len(reference) == 10
    assert other_batch == reference and sharded == reference and crowded == reference
    draws = [draw for _, _, draw in reference]
    assert len(set(draws)) == len(draws)  # every (metric, image, class) has its own stream


def test_draws_do_not_depend_on_the_global_rng(sqlite_url, registries, dataset_root):
    draws = []
    for name, global_seed in (("one", 1), ("two", 2)):
        torch.manual_seed(global_seed)
        draws.append(run_rows(noisy_suite(dataset_root), registries, sqlite_url, name)[1])
    assert draws[0] == draws[1]


def test_a_global_rng_metric_is_reseeded_with_the_same_seed(sqlite_url, registries,
                                                            dataset_root):
    """``global_rng = True``: the runner reseeds torch's RNG from the sample's seed, so the
    plugin draws exactly what the sample's own generator gives (and in any batch)."""
    streamed = run_rows(noisy_suite(dataset_root), registries, sqlite_url, "streamed")[1]
    legacy = {**NOISY, "name": "fake_global_hit"}
    for batch_size in (2, 5):
        config = noisy_suite(dataset_root, metrics=[legacy], batch_size=batch_size)
        rows = run_rows(config, registries, sqlite_url, f"legacy{batch_size}")[1]
        assert rows == streamed
