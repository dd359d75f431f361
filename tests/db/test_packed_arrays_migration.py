"""0005: existing MaxBoxAcc / PxAP rows get their arrays packed, exactly, and back on downgrade."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from xai_eval_localization_metrics.wsol import MaxBoxAcc, PxAP

from xai_eval.db.base import make_engine, session_factory, session_scope
from xai_eval.db.migrate import downgrade, upgrade
from xai_eval.db.results import MetricResult, Run
from xai_eval.metrics.packing import is_packed, pack, unpack


def _old_rows() -> list[dict]:
    rng = np.random.default_rng(3)
    rows = []
    for index in range(5):
        rows.append({"metric": "max_box_acc", "image_id": f"i{index}", "class_id": index % 2,
                     "values": {"max_iou_all_components": 0.5,
                                "max_iou_largest_component": 0.25,
                                "iou_all_per_threshold": rng.random(100).tolist(),
                                "iou_largest_per_threshold": (rng.random(100) / 2).tolist()}})
        rows.append({"metric": "pxap", "image_id": f"i{index}", "class_id": index % 2,
                     "values": {"image_ap": 0.75,
                                "positive_histogram": rng.integers(0, 900, 101).tolist(),
                                "negative_histogram": rng.integers(0, 70000, 101).tolist()}})
    rows.append({"metric": "pointing_game", "image_id": "i0", "class_id": 0,
                 "values": {"hit": True}})
    return rows


def _stored(factory) -> dict[tuple, dict]:
    with session_scope(factory) as session:
        return {(r.metric, r.image_id): r.values for r in session.scalars(select(MetricResult))}


def test_upgrade_packs_old_lists_exactly_and_downgrade_restores_them(db_url):
    upgrade(db_url, "0002_results")
    engine = make_engine(db_url)
    factory = session_factory(engine)
    old = _old_rows()
    with session_scope(factory) as session:
        session.add(Run(id="r", name="r", config_hash="h", config={}, xai_eval_version="0"))
        session.flush()
        for row in old:
            session.add(MetricResult(run_id="r", model="m", explainer="e", dataset="d", **row))
    before = _stored(factory)
    try:
        upgrade(db_url)
        after = _stored(factory)
        for key, values in before.items():
            for name, value in values.items():
                if isinstance(value, list):
                    assert is_packed(after[key][name])
                    assert unpack(after[key][name]).tolist() == value  # exact
                    # the migration's frozen codec writes what the package writes today
                    dtype = np.float64 if name.startswith("iou") else np.int64
                    assert after[key][name] == pack(np.asarray(value, dtype=dtype))
                else:
                    assert after[key][name] == value
        for metric in (MaxBoxAcc(), PxAP()):
            records = [{**v, "class_id": i % 2} for i, ((m, _), v) in
                       enumerate(sorted(before.items())) if m == metric.name]
            packed = [{**after[(metric.name, f"i{i}")], "class_id": i % 2} for i in range(5)]
            assert metric.aggregate(packed) == metric.aggregate(records)
        downgrade(db_url, "0002_results")
        assert _stored(factory) == before
    finally:
        engine.dispose()
