"""The suite runner on a tiny fake dataset and model, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from xai_eval.db.base import DatabaseError, make_engine, session_factory, session_scope
from xai_eval.db.results import MetricResult, RunUnit, insert_ignore
from xai_eval.errors import MissingResourceError
from xai_eval.suite import store
from xai_eval.suite.config import parse_suite
from xai_eval.suite.pipeline import summarize_run
from xai_eval.suite.runner import InjectedFailure, RunOptions, SuiteRunner
from xai_eval.suite.samples import fit_maps
from xai_eval.suite.sharding import Shard
from xai_eval.suite.tables import build_table

from .conftest import suite_dict


def small_suite(root: Path, **overrides):
    settings = {"models": [{"id": "gap", "spec": "fake:gap"}], "explainers": ["gradcam", "cam"],
                **overrides}
    return parse_suite(suite_dict(root, **settings))


def run(config, registries, url, **options):
    return SuiteRunner(config, registries, RunOptions(db_url=url, progress=False,
                                                      echo=lambda _m: None, **options)).run()


def rows_without_run(url: str, run_id: str) -> list[tuple]:
    factory = session_factory(make_engine(url))
    return [tuple((k, repr(v)) for k, v in row.items()) for row in store.result_rows(factory, run_id)]


def test_run_stores_every_unit_and_scores_like_an_oracle(db_url, registries, dataset_root,
                                                         fake_plugin):
    config = small_suite(dataset_root)
    outcome = run(config, registries, db_url)
    assert outcome.complete and not outcome.reused
    factory = session_factory(make_engine(db_url))
    rows = store.result_rows(factory, outcome.run_id)
    dataset = fake_plugin.FakeBoxes(dataset_root)
    source = fake_plugin.FakeSource().load("fake:gap")
    # units: 10 images x (classification + 2 explainers)
    assert store.count_units(factory, outcome.run_id) == 30
    # classification rows: one per image, for its label; metric rows per explainer
    classification = [r for r in rows if r["metric"] == "classification"]
    assert len(classification) == 10
    images = torch.stack([source.preprocess(dataset[i].load_image().resize((32, 32), Image.BILINEAR))
                          for i in range(10)])
    predicted = source.model(images).argmax(1)
    expected_error = 100 * float((predicted != torch.tensor(
        [dataset.item_label(dataset[i]) for i in range(10)])).float().mean())
    summary, table = summarize_run(config, db_url, outcome.run_id, registries)
    assert summary.get("boxes", "gap", "", "classification")["top1_error"] == pytest.approx(
        expected_error)
    assert table.rows[0]["cls top-1 err"] == pytest.approx(expected_error)
    # the metric's own aggregate() decides (per-class mean), not a plain mean
    assert set(summary.get("boxes", "gap", "gradcam", "fake_hit")) == {"class_mean_hit"}
    # top-k maps come from one (B, K) explain call; they equal a single-target call
    topk_rows = [r for r in rows if r["metric"] == "fake_topk" and r["explainer"] == "gradcam"]
    assert len(topk_rows) == 10 and all(r["values"]["k"] == 2 for r in topk_rows)
    explainer = registries.get("explainers", "gradcam").cls(source.model, target_layer="features")
    for row in topk_rows[:3]:
        index = int(row["image_id"][3:])
        single = explainer(images[index:index + 1], predicted[index:index + 1])
        assert row["values"]["top1_map_sum"] == pytest.approx(float(single.sum()), rel=1e-5)


def test_killed_run_resumes_to_the_identical_table(db_url, registries, dataset_root):
    config = small_suite(dataset_root)
    reference = run(config, registries, db_url, run_name="reference")
    with pytest.raises(InjectedFailure):
        run(config, registries, db_url, run_name="crashy", fail_after_units=7)
    crashed_id = config.run_id("crashy")
    factory = session_factory(make_engine(db_url))
    assert 0 < store.count_units(factory, crashed_id) < 30
    # without --resume an incomplete run is an error that says what to do
    with pytest.raises(store.RunExistsError, match="--resume"):
        run(config, registries, db_url, run_name="crashy")
    resumed = run(config, registries, db_url, run_name="crashy", resume=True)
    assert resumed.complete and 0 < resumed.units_written < 30
    # the two runs never mix, and their rows are identical value for value
    assert reference.run_id != resumed.run_id
    ref_rows = [r[1:] for r in rows_without_run(db_url, reference.run_id)]
    got_rows = [r[1:] for r in rows_without_run(db_url, resumed.run_id)]
    assert ref_rows == got_rows and len(ref_rows) > 30
    table_a = build_table(summarize_run(config, db_url, reference.run_id, registries)[0], config)
    table_b = build_table(summarize_run(config, db_url, resumed.run_id, registries)[0], config)
    assert table_a.rows == table_b.rows


def test_rerunning_a_complete_run_reuses_it(db_url, registries, dataset_root):
    config = small_suite(dataset_root)
    first = run(config, registries, db_url)
    again = run(config, registries, db_url)
    assert again.reused and again.complete and again.units_written == 0
    assert again.run_id == first.run_id
    resumed = run(config, registries, db_url, resume=True)  # nothing left to do
    assert resumed.complete and resumed.units_written == 0


def test_writes_are_idempotent(db_url, registries, dataset_root):
    config = small_suite(dataset_root)
    outcome = run(config, registries, db_url)
    factory = session_factory(make_engine(db_url))
    before = rows_without_run(db_url, outcome.run_id)
    stored = store.result_rows(factory, outcome.run_id)
    duplicate = [{**row, "run_id": outcome.run_id, "values": {"changed": True}} for row in stored]
    with session_scope(factory) as session:
        insert_ignore(session, MetricResult, duplicate)
        insert_ignore(session, MetricResult, duplicate)
        insert_ignore(session, RunUnit, [{"run_id": outcome.run_id, "model": "gap",
                                          "explainer": "cam", "dataset": "boxes",
                                          "image_id": "img000"}] * 2)
    assert rows_without_run(db_url, outcome.run_id) == before  # first write wins
    assert store.count_units(factory, outcome.run_id) == 30


def test_shards_together_cover_the_whole_run(db_url, registries, dataset_root):
    config = small_suite(dataset_root)
    whole = run(config, registries, db_url, run_name="whole")
    first = run(config, registries, db_url, run_name="sharded", shard=Shard(0, 2))
    assert not first.complete  # the other shard is missing
    second = run(config, registries, db_url, run_name="sharded", shard=Shard(1, 2))
    assert second.complete
    assert first.units_written + second.units_written == 30
    keys = [r[:6] for r in rows_without_run(db_url, whole.run_id)]
    sharded_keys = [r[:6] for r in rows_without_run(db_url, second.run_id)]
    assert keys == sharded_keys


def test_corrupt_image_is_skipped_recorded_and_counted(sqlite_url, registries, tmp_path,
                                                       fake_plugin):
    root = fake_plugin.make_dataset(tmp_path / "bad", count=5, corrupt=(2,))
    config = small_suite(root)
    outcome = run(config, registries, sqlite_url)
    assert outcome.complete
    summary, _table = summarize_run(config, sqlite_url, outcome.run_id, registries)
    assert [s["image_id"] for s in summary.skipped_images] == ["img002"]
    assert "cannot decode" in summary.skipped_images[0]["reason"]
    factory = session_factory(make_engine(sqlite_url))
    assert store.count_units(factory, outcome.run_id) == 4 * 3
    assert all(r["image_id"] != "img002" for r in store.result_rows(factory, outcome.run_id))


def test_cam_on_a_model_without_gap_head_is_skipped_clearly(sqlite_url, registries,
                                                           dataset_root):
    config = parse_suite(suite_dict(dataset_root, models=[{"id": "fc", "spec": "fake:fc"}],
                                    explainers=["cam", "gradcam"]))
    messages: list[str] = []
    outcome = SuiteRunner(config, registries, RunOptions(
        db_url=sqlite_url, progress=False, echo=messages.append)).run()
    assert outcome.complete
    assert [(m, e) for m, e, _d, _r in outcome.skipped_pairs] == [("fc", "cam")]
    assert "GAP" in outcome.skipped_pairs[0][3] or "average-pooled" in outcome.skipped_pairs[0][3]
    assert any("skipping explainer 'cam' for model 'fc'" in m for m in messages)
    table = build_table(summarize_run(config, sqlite_url, outcome.run_id, registries)[0], config)
    cam_row = next(r for r in table.rows if r["method"] == "cam")
    assert cam_row["_skipped"] and cam_row["fake_hit"] is None


def test_missing_dataset_fails_before_any_work(tmp_path, registries):
    config = small_suite(tmp_path / "nowhere")
    url = f"sqlite:///{tmp_path / 'never.db'}"
    with pytest.raises(MissingResourceError, match="dataset 'boxes': root .*nowhere does not exist"):
        run(config, registries, url)
    assert not (tmp_path / "never.db").exists()


def test_wrong_dataset_format_names_the_dataset(tmp_path, registries):
    (tmp_path / "empty").mkdir()
    config = small_suite(tmp_path / "empty")
    with pytest.raises(MissingResourceError, match="dataset 'boxes'.*annotations.json"):
        run(config, registries, f"sqlite:///{tmp_path / 'x.db'}")


def test_unreachable_database_is_a_clear_error(registries, dataset_root):
    config = small_suite(dataset_root)
    with pytest.raises(DatabaseError, match="cannot connect to the database"):
        run(config, registries, "postgresql+psycopg://postgres@127.0.0.1:9/none")


def test_maps_of_the_wrong_size_are_resized_with_a_warning():
    maps = torch.rand(2, 3, 8, 8)
    with pytest.warns(UserWarning, match="resizing them bilinearly"):
        fitted = fit_maps(maps, (32, 32), "odd")
    assert fitted.shape == (2, 3, 32, 32) and bool((fitted >= 0).all())
    assert fit_maps(fitted, (32, 32), "odd") is fitted


def test_a_metric_error_on_one_sample_is_recorded_not_fatal(sqlite_url, registries,
                                                            dataset_root):
    config = small_suite(dataset_root, metrics=["fake_fussy", "fake_hit"],
                         explainers=["gradcam"])
    outcome = run(config, registries, sqlite_url)
    assert outcome.complete
    summary, _table = summarize_run(config, sqlite_url, outcome.run_id, registries)
    assert [(s["image_id"], s["explainer"]) for s in summary.skipped_images] == [
        ("img003", "gradcam:fake_fussy")]
    assert "no usable box" in summary.skipped_images[0]["reason"]
    assert summary.counts[("boxes", "gap", "gradcam", "fake_fussy")] == 9
    assert summary.counts[("boxes", "gap", "gradcam", "fake_hit")] == 10


def test_concurrent_shards_on_an_empty_database(db_url, registries, dataset_root):
    """Two workers starting together: one schema upgrade, no collisions, one complete run."""
    import threading

    config = small_suite(dataset_root, explainers=["gradcam"])
    outcomes, errors = [], []

    def worker(index: int) -> None:
        try:
            outcomes.append(run(config, registries, db_url, shard=Shard(index, 2)))
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(o.units_written for o in outcomes) == 20
    factory = session_factory(make_engine(db_url))
    assert store.count_units(factory, config.run_id()) == 20
    assert run(config, registries, db_url, resume=True).complete


def test_metric_warnings_are_recorded_once_per_metric_and_dataset(db_url, registries,
                                                                  dataset_root):
    """Not silenced: the first warning per (metric, dataset) is stored, echoed once, and
    reaches the summary and the report, whichever explainers and shards raised it."""
    from xai_eval.suite.report import _skips_html

    config = small_suite(dataset_root, metrics=["fake_warns", "fake_hit"])
    notes: list[str] = []
    for index in range(2):
        outcome = SuiteRunner(config, registries, RunOptions(
            db_url=db_url, progress=False, echo=notes.append, shard=Shard(index, 2))).run()
    assert outcome.complete
    warned = [n for n in notes if "warned" in n]
    assert len(warned) == 1 and "fake_warns" in warned[0] and "img002" in warned[0]
    summary, _table = summarize_run(config, db_url, outcome.run_id, registries)
    assert summary.metric_warnings == [{"dataset": "boxes", "metric": "fake_warns",
                                        "message": "UserWarning: map of img002 is degenerate"}]
    assert "fake_warns on boxes: UserWarning: map of img002 is degenerate" in _skips_html(summary)
    # the warning did not change what was scored
    assert summary.counts[("boxes", "gap", "gradcam", "fake_warns")] == 10
