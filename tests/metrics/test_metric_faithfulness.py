"""Deletion / insertion AUC, occlusion maps and rank correlation against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torchvision.transforms.functional as TF
from scipy.stats import spearmanr

from xai_eval.errors import InputValidationError
from xai_eval.metrics.functional import (
    deletion_auc,
    insertion_auc,
    occlusion_map,
    perturbation_curve,
    rank_correlation,
)

LINEAR_WEIGHTS = (4.0, 3.0, 2.0, 1.0)  # the toy_linear fixture's weights (conftest.py)
IMAGE = torch.ones(1, 2, 2)
SALIENCY = np.array(LINEAR_WEIGHTS).reshape(2, 2)  # the best order: weights descending


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def test_deletion_logit_curve_closed_form(toy_linear) -> None:
    # deleting 4, 3, 2, 1 in turn leaves logits 10, 6, 3, 1, 0 at fractions 0, 1/4, ..., 1
    fractions, scores = perturbation_curve(toy_linear, IMAGE, 0, SALIENCY, IMAGE, torch.zeros(1),
                                           1, output="logit")
    np.testing.assert_allclose(fractions, [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(scores, [10, 6, 3, 1, 0])
    # trapezoid: 1/4 * (8 + 4.5 + 2 + 0.5) = 3.75
    assert deletion_auc(toy_linear, IMAGE, 0, SALIENCY, step=1, output="logit") == pytest.approx(3.75)


def test_deletion_softmax_closed_form(toy_linear) -> None:
    # p = softmax([S, 0])[0] = sigmoid(S)
    s = [10, 6, 3, 1, 0]
    expected = 0.25 * sum((_sigmoid(a) + _sigmoid(b)) / 2 for a, b in zip(s, s[1:], strict=False))
    assert deletion_auc(toy_linear, IMAGE, 0, SALIENCY, step=1) == pytest.approx(expected)


def test_deletion_steps_and_baseline(toy_linear) -> None:
    # step 2: logits 10, 3, 0 at 0, 1/2, 1 -> 1/2 * (6.5 + 1.5) = 4
    assert deletion_auc(toy_linear, IMAGE, 0, SALIENCY, step=2, output="logit") == pytest.approx(4.0)
    # step 3 (does not divide 4 pixels): logits 10, 1, 0 at 0, 3/4, 1 -> 3/4*5.5 + 1/4*0.5 = 4.25
    assert deletion_auc(toy_linear, IMAGE, 0, SALIENCY, step=3, output="logit") == pytest.approx(4.25)
    # baseline equal to the image: nothing changes, the curve is flat at 10
    assert deletion_auc(toy_linear, IMAGE, 0, SALIENCY, step=1, baseline=1.0,
                        output="logit") == pytest.approx(10.0)
    # the worst order (weights ascending): 10, 9, 7, 4, 0 -> 6.25, worse (higher) than 3.75
    assert deletion_auc(toy_linear, IMAGE, 0, SALIENCY[::-1, ::-1].copy(), step=1,
                        output="logit") == pytest.approx(6.25)


def test_insertion_closed_form_on_a_linear_model(toy_linear) -> None:
    image = torch.tensor([[[2.0, -1.0], [0.5, 3.0]]])
    blurred = TF.gaussian_blur(image, [3, 3], [1.0, 1.0])
    w = torch.tensor(LINEAR_WEIGHTS).view(2, 2)
    order = [(0, 0), (0, 1), (1, 0), (1, 1)]  # saliency = weights: descending = raster order
    curve = []
    for k in range(5):
        inserted = torch.zeros(2, 2, dtype=torch.bool)
        for r, c in order[:k]:
            inserted[r, c] = True
        curve.append(float((w * torch.where(inserted, image[0], blurred[0])).sum()))
    expected = 0.25 * sum((a + b) / 2 for a, b in zip(curve, curve[1:], strict=False))
    got = insertion_auc(toy_linear, image, 0, SALIENCY, step=1, blur_kernel=3, blur_sigma=1.0,
                        output="logit")
    assert got == pytest.approx(expected, rel=1e-6)


def test_curves_are_deterministic_batch_invariant_and_restore_mode(toy_linear) -> None:
    torch.manual_seed(1)
    image = torch.randn(1, 2, 2)
    toy_linear.train()
    a = deletion_auc(toy_linear, image, 0, SALIENCY, step=1, batch_size=1)
    b = deletion_auc(toy_linear, image, 0, SALIENCY, step=1, batch_size=64)
    assert a == b
    assert toy_linear.training  # restored
    tied = np.ones((2, 2))  # all ties: raster order, reproducibly
    assert deletion_auc(toy_linear, image, 0, tied, step=1) == deletion_auc(toy_linear, image, 0,
                                                                            tied, step=1)


def test_curve_input_errors(toy_linear) -> None:
    with pytest.raises(InputValidationError, match="float torch.Tensor"):
        deletion_auc(toy_linear, np.ones((1, 2, 2)), 0, SALIENCY)
    with pytest.raises(InputValidationError, match="size"):
        deletion_auc(toy_linear, IMAGE, 0, np.ones((3, 3)))
    with pytest.raises(InputValidationError, match="target class 5"):
        deletion_auc(toy_linear, IMAGE, 5, SALIENCY)
    with pytest.raises(InputValidationError, match="NaN"):
        deletion_auc(toy_linear, IMAGE, 0, np.full((2, 2), np.nan))


def test_occlusion_map_closed_form(toy_linear) -> None:
    image = torch.tensor([[[2.0, -1.0], [0.5, 3.0]]])
    w = np.array(LINEAR_WEIGHTS).reshape(2, 2)
    # 1-pixel patches with fill 0: the logit drop is w * x exactly
    np.testing.assert_allclose(occlusion_map(toy_linear, image, 0, patch_size=1, stride=1),
                               w * image[0].numpy())
    # one 2x2 patch covers everything: every pixel gets the whole drop w . (x - fill)
    drop = float((w * (image[0].numpy() - 0.5)).sum())
    np.testing.assert_allclose(occlusion_map(toy_linear, image, 0, patch_size=2, stride=5,
                                             fill=0.5), np.full((2, 2), drop))


def test_occlusion_map_averages_overlapping_patches() -> None:
    # 3x3 image, logit = w . x; 2x2 patches at stride 1 sit at (0,0), (0,1), (1,0), (1,1)
    torch.manual_seed(0)
    w = torch.randn(9).double()
    fc = nn.Linear(9, 2, bias=False).double()
    with torch.no_grad():
        fc.weight.zero_()
        fc.weight[0] = w
    model = nn.Sequential(nn.Flatten(), fc)
    image = torch.randn(1, 3, 3).double()
    contrib = (w.view(3, 3) * image[0]).numpy()
    drops = {(r, c): contrib[r:r + 2, c:c + 2].sum() for r in (0, 1) for c in (0, 1)}
    out = occlusion_map(model, image, 0, patch_size=2, stride=1)
    assert out[0, 0] == pytest.approx(drops[(0, 0)])  # one covering patch
    assert out[0, 1] == pytest.approx((drops[(0, 0)] + drops[(0, 1)]) / 2)  # two
    assert out[1, 1] == pytest.approx(sum(drops.values()) / 4)  # four
    # stride larger than the image: the last patch is aligned to the border, all covered
    assert np.isfinite(occlusion_map(model, image, 0, patch_size=2, stride=5)).all()


def test_occlusion_map_softmax_closed_form(toy_linear) -> None:
    # logits [w . x, 0]: the class probability is sigmoid(w . x), so hiding pixel i (fill 0)
    # drops it to sigmoid(w . x - w_i x_i)
    image = torch.tensor([[[2.0, -1.0], [0.5, 3.0]]])
    contrib = np.array(LINEAR_WEIGHTS) * image[0].numpy().ravel()
    expected = [_sigmoid(contrib.sum()) - _sigmoid(contrib.sum() - c) for c in contrib]
    np.testing.assert_allclose(
        occlusion_map(toy_linear, image, 0, patch_size=1, stride=1, output="softmax"),
        np.reshape(expected, (2, 2)), rtol=1e-5, atol=1e-7)


def test_occlusion_map_is_the_occlusion_explainers_raw_map() -> None:
    """One implementation: the metric's map is the registered explainer's signed raw map."""
    import xai_eval

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                          nn.Flatten(), nn.Linear(16, 3)).train()
    image = torch.randn(3, 12, 12)
    ours = occlusion_map(model, image, 2, patch_size=4, stride=3, fill=0.5)
    explainer = xai_eval.get_explainer("occlusion", model, patch_size=4, stride=3, fill=0.5)
    raw = explainer.attribute(image[None], 2)[0, 0].double().numpy()
    np.testing.assert_array_equal(ours, raw)
    assert (ours < 0).any() or (ours > 0).any()
    assert model.training and all(p.grad is None for p in model.parameters())


def test_occlusion_map_bad_geometry_is_an_error() -> None:
    image = torch.randn(1, 8, 8)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    # patches 2 px apart every 3 px would never hide the pixels between them
    with pytest.raises(InputValidationError, match=r"stride 3x3 exceeds the patch 2x2"):
        occlusion_map(model, image, 0, patch_size=2, stride=3)
    for bad in (0, 0.5, True):
        with pytest.raises(InputValidationError, match="positive int"):
            occlusion_map(model, image, 0, patch_size=bad)
    with pytest.raises(InputValidationError, match="output must be one of"):
        occlusion_map(model, image, 0, output="probability")
    with pytest.raises(InputValidationError, match="class 2 is out of range"):
        occlusion_map(model, image, 2, patch_size=2, stride=2)


def test_rank_correlation_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, size=(6, 7)).astype(float)  # many ties
    b = a + rng.normal(size=(6, 7))
    expected = spearmanr(a.ravel(), b.ravel()).statistic
    assert rank_correlation(a, b) == pytest.approx(expected, abs=1e-12)
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    assert rank_correlation(np.array([[-3.0, 1.0, 2.0]]), np.array([[3.0, 1.0, 2.0]]),
                            absolute=True) == pytest.approx(1.0)


def test_rank_correlation_of_a_constant_map_is_undefined() -> None:
    assert rank_correlation(np.zeros((3, 3)), np.arange(9.0).reshape(3, 3)) is None


def test_deletion_resizes_a_map_only_when_asked(toy_linear) -> None:
    coarse = np.array([[2.0]])  # 1x1: every pixel tied -> raster order, same as the weights' order
    with pytest.raises(InputValidationError, match="size"):
        deletion_auc(toy_linear, IMAGE, 0, coarse, step=1)
    assert deletion_auc(toy_linear, IMAGE, 0, coarse, step=1, output="logit",
                        on_size_mismatch="resize") == pytest.approx(3.75)
