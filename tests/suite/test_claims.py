"""The papers' claims section: interval functions against known values, verdict logic by hand."""

from __future__ import annotations

import numpy as np
import pytest

from xai_eval.suite.claims import check_claims, paired_bootstrap, to_markdown, wilson


def test_wilson_matches_the_published_fixture():
    low, high = wilson(496, 810)  # Grad-CAM's human study: 57.83-64.53 %
    assert (round(100 * low, 2), round(100 * high, 2)) == (57.83, 64.53)


def test_paired_bootstrap_is_seeded_and_exact_on_a_constant_difference():
    a, b = np.array([3.0, 4.0, 5.0]), np.array([1.0, 2.0, 3.0])
    assert paired_bootstrap(a, b) == pytest.approx((2.0, 2.0, 2.0))
    rng = np.random.default_rng(1)
    x, y = rng.random(50), rng.random(50)
    assert paired_bootstrap(x, y) == paired_bootstrap(x, y)
    est, low, high = paired_bootstrap(x, y)
    assert low < est < high and est == pytest.approx(float((x - y).mean()))


def _rows(model, explainer, metric, values_by_key):
    return [{"dataset": "d", "model": model, "explainer": explainer, "metric": metric,
             "image_id": image, "class_id": cls, "values": values}
            for (image, cls), values in values_by_key.items()]


def test_verdicts_follow_hand_built_records():
    images = [f"{i:03d}" for i in range(40)]
    rows = []
    for explainer, correct in (("gradcam", 1), ("cam", 1), ("backprop", 0), ("c_mwp", 1)):
        rows += _rows("gap", explainer, "localization_error",
                      {(i, 0): {"top1_correct": correct, "gt_known_correct": correct} for i in images})
    # pointing: gradcam always hits, centre never; guided grad-cam hits both classes of
    # two-class images, guided backprop only the first one
    rows += _rows("gap", "gradcam", "pointing_game", {(i, 0): {"hit": True} for i in images})
    rows += _rows("gap", "cam", "pointing_game", {(i, 0): {"hit": True} for i in images})
    rows += _rows("gap", "center", "pointing_game", {(i, 0): {"hit": False} for i in images})
    two = {**{(i, 0): {"hit": True} for i in images}, **{(i, 1): {"hit": True} for i in images}}
    rows += _rows("gap", "guided_gradcam", "pointing_game", two)
    rows += _rows("gap", "guided_backprop", "pointing_game",
                  {**two, **{(i, 1): {"hit": False} for i in images}})
    claims = {(c.claim, c.scope): c for c in check_claims(rows, ["gap"], ["gradcam", "center"])}
    cam = claims[("CAM = Grad-CAM on a GAP net", "model gap")]
    assert cam.verdict == "agrees" and cam.estimate == 1.0 and cam.n == 120
    backprop = claims[("Grad-CAM localises better than Backprop", "model gap")]
    assert backprop.verdict == "agrees" and backprop.estimate == 100.0
    cmwp = claims[("Grad-CAM localises better than c-MWP", "model gap")]
    assert cmwp.verdict == "inconclusive" and cmwp.estimate == 0.0  # equal: no evidence either way
    ggc = claims[("Guided Grad-CAM is class-discriminative", "model gap")]
    assert ggc.verdict == "agrees" and ggc.n == 40 and ggc.estimate == 100.0
    centre = claims[("beats the centre baseline on pointing", "model gap: gradcam")]
    assert centre.verdict == "agrees" and centre.estimate == 100.0
    assert "| CAM = Grad-CAM on a GAP net | model gap |" in to_markdown(list(claims.values()))
