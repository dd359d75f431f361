"""The metric plugins: registration, parameters, hand-computed aggregates, and exact
accumulation (one pass == merged batches == aggregate of the stored JSON records)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import xai_eval
from xai_eval.errors import InputValidationError
from xai_eval.metrics import Metric, MetricContext, MetricSample
from xai_eval.metrics.functional import map_similarity, randomize_model
from xai_eval.plugins import build_registries

ALL_METRICS = {
    "pointing_game", "energy_pointing_game", "localization_error", "max_box_acc", "pxap",
    "mask_iou", "deletion", "insertion", "occlusion_correlation", "sanity_randomization",
}
SIZE = 16


@pytest.fixture(scope="module")
def registries():
    return build_registries()


def metric(registries, name: str, **params):
    return registries.get("metrics", name).cls(**params)


def sample(class_id: int = 1, saliency=None, boxes=((2, 2, 8, 8),), mask=None, **fields) -> MetricSample:
    if saliency is None:
        saliency = torch.zeros(SIZE, SIZE)
    context = MetricContext(model=fields.pop("model", None),
                            explainer=fields.pop("explainer", None))
    return MetricSample(
        image_id=fields.pop("image_id", "img"), gt_class=class_id,
        saliency=torch.as_tensor(saliency, dtype=torch.float32),
        gt_boxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        gt_mask=None if mask is None else torch.as_tensor(mask), context=context, **fields)


def peak(row: int, col: int) -> torch.Tensor:
    sal = torch.zeros(SIZE, SIZE)
    sal[row, col] = 1.0
    return sal


def test_every_metric_is_registered_with_its_contract(registries) -> None:
    assert set(registries.names("metrics")) >= ALL_METRICS
    for name in ALL_METRICS:
        entry = registries.get("metrics", name)
        assert issubclass(entry.cls, Metric)
        assert entry.summary, name
        assert isinstance(entry.cls.higher_is_better, bool)
        assert isinstance(entry.cls.params, dict) and entry.cls.params
        assert "saliency" in entry.cls.requires
    assert registries.get("metrics", "pointing_game").cls.params["tolerance"] == 15
    assert registries.get("metrics", "localization_error").cls.params["threshold"] == 0.15
    assert registries.get("metrics", "max_box_acc").cls.params["iou_thresholds"] == (0.3, 0.5, 0.7)
    assert registries.get("metrics", "insertion").cls.params["blur_sigma"] == 5.0


def test_unknown_parameter_and_missing_field_are_clear_errors(registries) -> None:
    with pytest.raises(InputValidationError, match="tolerence"):
        metric(registries, "pointing_game", tolerence=10)
    with pytest.raises(InputValidationError, match=r"\['gt_mask'\]"):
        metric(registries, "pxap").update(sample())
    with pytest.raises(InputValidationError, match="model"):
        metric(registries, "deletion").update(sample(image=torch.zeros(1, SIZE, SIZE)))


def test_pointing_game_by_hand(registries) -> None:
    game = metric(registries, "pointing_game", tolerance=2)
    box = ((2, 2, 4, 4),)  # pixels rows/cols 2..3
    # class 1: hit, miss, miss (-> 1/3); class 2: hit (-> 1); mean 2/3
    records = [game.update(s) for s in (
        sample(1, peak(2, 2), box),
        sample(1, peak(5, 3), box),  # 2 rows below the box edge row 3: distance 2 -> miss
        sample(1, peak(12, 12), box, difficult=True),
        sample(2, peak(4, 4), box, difficult=True),  # distance^2 = 1 + 1 = 2 < 4: hit
    )]
    assert [r["hit"] for r in records] == [True, False, False, True]
    result = game.compute()
    assert result["accuracy"] == pytest.approx((1 / 3 + 1) / 2)
    # difficult subset: class 1 -> 0/1, class 2 -> 1/1
    assert result["accuracy_difficult"] == pytest.approx(0.5)
    assert result["n_pairs"] == 4 and result["n_pairs_difficult"] == 2


def test_pointing_game_counts_exclusions_and_constant_maps(registries) -> None:
    game = metric(registries, "pointing_game")
    game.update(sample(1, peak(3, 3), boxes=()))  # empty region: excluded
    game.update(sample(1, peak(3, 3), gt_box_difficult=torch.tensor([True])))  # all difficult
    game.update(sample(1, peak(3, 3), gt_box_difficult=torch.tensor([True, False]),
                       boxes=((2, 2, 8, 8), (0, 0, 1, 1))))  # not all difficult: scored
    game.update(sample(1, torch.zeros(SIZE, SIZE), boxes=((0, 0, SIZE, SIZE),)))  # constant: miss
    result = game.compute()
    assert result["n_excluded_empty_region"] == 1
    assert result["n_skipped_all_difficult"] == 1
    assert result["n_constant_maps"] == 1
    assert result["n_pairs"] == 2 and result["accuracy"] == pytest.approx(0.5)
    assert not any(isinstance(v, float) and np.isnan(v) for v in result.values())


def test_pointing_game_prefers_the_mask(registries) -> None:
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[12, 12] = True
    game = metric(registries, "pointing_game", tolerance=1)
    assert game.update(sample(1, peak(12, 12), boxes=((0, 0, 2, 2),), mask=mask))["hit"] is True
    boxes_only = metric(registries, "pointing_game", tolerance=1, region="boxes")
    assert boxes_only.update(sample(1, peak(12, 12), boxes=((0, 0, 2, 2),), mask=mask))["hit"] is False


def test_energy_pointing_game_by_hand(registries) -> None:
    sal = torch.zeros(SIZE, SIZE)
    sal[0, 0], sal[10, 10] = 3.0, 1.0
    game = metric(registries, "energy_pointing_game")
    assert game.update(sample(1, sal, boxes=((0, 0, 2, 2),)))["energy"] == pytest.approx(0.75)
    assert game.update(sample(1, sal, boxes=((8, 8, 12, 12),)))["energy"] == pytest.approx(0.25)
    game.update(sample(1, sal, boxes=()))
    result = game.compute()
    assert result["energy"] == pytest.approx(0.5) and result["n_excluded_empty_region"] == 1


def test_localization_error_by_hand(registries) -> None:
    good = torch.zeros(SIZE, SIZE)
    good[2:8, 2:8] = 1.0  # box [2, 2, 8, 8] == the ground truth
    bad = torch.zeros(SIZE, SIZE)
    bad[12:14, 12:14] = 1.0
    loc = metric(registries, "localization_error")
    top = torch.tensor([1, 5, 6, 7, 8])
    loc.update(sample(1, good, topk_classes=top, topk_saliency=torch.stack([good] + [bad] * 4)))
    loc.update(sample(5, good, topk_classes=top, topk_saliency=torch.stack([bad, good] + [bad] * 3)))
    loc.update(sample(9, bad, topk_classes=top, topk_saliency=torch.stack([bad] * 5)))
    loc.update(sample(1, good))  # no top-k: GT-known only
    result = loc.compute()
    assert result["top1_loc_error"] == pytest.approx(2 / 3)  # only the first image
    assert result["top5_loc_error"] == pytest.approx(1 / 3)  # first two images
    assert result["gt_known_loc_error"] == pytest.approx(1 / 4)  # third image's map is bad
    assert result["n_images"] == 4 and result["n_top"] == 3


def test_mask_iou_metric_by_hand(registries) -> None:
    def mask_of(*pixels):
        m = np.zeros((SIZE, SIZE), dtype=bool)
        for r, c in pixels:
            m[r, c] = True
        return m

    sal = torch.zeros(SIZE, SIZE)
    sal[0, 0] = sal[0, 1] = 1.0
    miou = metric(registries, "mask_iou")
    miou.update(sample(1, sal, mask=mask_of((0, 1), (1, 1))))  # 1 / 3
    miou.update(sample(1, sal, mask=mask_of((0, 0), (0, 1))))  # 2 / 2
    miou.update(sample(2, sal, mask=mask_of((5, 5))))  # 0 / 3
    result = miou.compute()
    assert result["miou"] == pytest.approx(((1 + 2) / (3 + 2) + 0.0) / 2)
    assert result["mean_image_iou"] == pytest.approx((1 / 3 + 1 + 0) / 3)


def test_occlusion_correlation_uses_a_supplied_occlusion_map(registries) -> None:
    rng = np.random.default_rng(0)
    occ = rng.random((SIZE, SIZE))
    corr = metric(registries, "occlusion_correlation")
    record = corr.update(sample(1, torch.from_numpy(occ), image=torch.zeros(3, SIZE, SIZE),
                                model=torch.nn.Identity(), extras={"occlusion_map": occ}))
    assert record["rho"] == pytest.approx(1.0)
    zero = corr.update(sample(1, torch.zeros(SIZE, SIZE), image=torch.zeros(3, SIZE, SIZE),
                              model=torch.nn.Identity(), extras={"occlusion_map": occ}))
    assert zero == {"rho": 0.0, "constant": True}
    assert corr.compute()["rank_correlation"] == pytest.approx(0.5)
    excluding = metric(registries, "occlusion_correlation", constant_map="exclude")
    excluding.update(sample(1, torch.zeros(SIZE, SIZE), image=torch.zeros(3, SIZE, SIZE),
                            model=torch.nn.Identity(), extras={"occlusion_map": occ}))
    assert excluding.compute() == {"rank_correlation": None, "n_images": 0, "n_constant": 1}


def test_sanity_metric_matches_a_manual_randomisation(registries, tiny_cnn) -> None:
    explainer = xai_eval.get_explainer("gradcam", tiny_cnn, target_layer="conv2")
    image = torch.randn(3, SIZE, SIZE)
    trained = explainer(image[None], torch.tensor([2]))[0]
    sanity = metric(registries, "sanity_randomization", depth=2, seed=4)
    record = sanity.update(sample(2, trained, image=image, model=tiny_cnn, explainer=explainer))
    clone = randomize_model(tiny_cnn, 2, seed=4)
    manual = xai_eval.get_explainer("gradcam", clone, target_layer="conv2")(image[None],
                                                                           torch.tensor([2]))[0]
    assert record == map_similarity(trained, manual)
    assert sanity.compute()["n_images"] == 1


def _samples_for_all(tiny_cnn) -> list[MetricSample]:
    """Varied samples carrying every field any metric requires."""
    rng = np.random.default_rng(1)
    explainer = xai_eval.get_explainer("gradcam", tiny_cnn, target_layer="conv2")
    out = []
    for index in range(6):
        image = torch.from_numpy(rng.normal(size=(3, SIZE, SIZE))).float()
        class_id = index % 3
        saliency = explainer(image[None], torch.tensor([class_id]))[0]
        if index == 4:
            saliency = torch.zeros(SIZE, SIZE)  # a degenerate map among them
        x0, y0 = rng.integers(0, 8, size=2)
        boxes = ((x0, y0, x0 + 6, y0 + 5),)
        mask = np.zeros((SIZE, SIZE), dtype=bool)
        mask[y0:y0 + 5, x0:x0 + 6] = True
        top = torch.tensor([class_id, (class_id + 1) % 3, (class_id + 2) % 3])
        topk = torch.stack([saliency] + [torch.from_numpy(rng.random((SIZE, SIZE))).float()] * 2)
        out.append(sample(class_id, saliency, boxes, mask, image_id=f"im{index}", image=image,
                          model=tiny_cnn, explainer=explainer, difficult=index % 2 == 0,
                          topk_classes=top if index != 5 else top.flip(0), topk_saliency=topk))
    return out


FAST_PARAMS = {"deletion": {"step": 32}, "insertion": {"step": 32, "blur_kernel": 3},
               "occlusion_correlation": {"patch_size": 8, "stride": 8}, "sanity_randomization": {}}


@pytest.mark.parametrize("name", sorted(ALL_METRICS))
def test_accumulation_is_exact(registries, tiny_cnn, name: str) -> None:
    samples = _samples_for_all(tiny_cnn)
    params = FAST_PARAMS.get(name, {})
    whole = metric(registries, name, **params)
    records = []
    for s in samples:
        record = whole.update(s)
        json.dumps(record)  # JSON-serialisable per-image values
        records.append({**json.loads(json.dumps(record)), "image_id": s.image_id,
                        "class_id": s.gt_class})
    expected = whole.compute()
    json.dumps(expected)
    assert not any(isinstance(v, float) and np.isnan(v) for v in expected.values())
    # batches merged
    first, second = metric(registries, name, **params), metric(registries, name, **params)
    for s in samples[:2]:
        first.update(s)
    for s in samples[2:]:
        second.update(s)
    assert first.merge(second).compute() == pytest.approx(expected)
    # the suite runner's path: aggregate the stored records
    assert metric(registries, name, **params).aggregate(records) == pytest.approx(expected)
    # checkpointed state
    restored = metric(registries, name, **params)
    restored.load_state_dict(json.loads(json.dumps(whole.state_dict())))
    assert restored.compute() == pytest.approx(expected)
    # reset forgets
    whole.reset()
    assert whole.state_dict() == metric(registries, name, **params).state_dict()


def test_merge_refuses_different_parameters(registries) -> None:
    with pytest.raises(InputValidationError, match="parameters must match"):
        metric(registries, "pointing_game").merge(metric(registries, "pointing_game", tolerance=3))


@pytest.mark.parametrize("name", ["pointing_game", "energy_pointing_game", "localization_error",
                                  "max_box_acc"])
def test_box_metrics_put_a_small_map_into_the_image_frame(registries, name: str) -> None:
    # an 8x8 map of a 16x16 image: its peak block [1:4, 1:4] covers [2:8, 2:8] once resized
    small = torch.zeros(SIZE // 2, SIZE // 2)
    small[1:4, 1:4] = 1.0
    big = torch.nn.functional.interpolate(small[None, None], size=(SIZE, SIZE), mode="bilinear",
                                          align_corners=False)[0, 0]
    fields = {"image": torch.zeros(3, SIZE, SIZE), "topk_classes": torch.tensor([1, 2]),
              "topk_saliency": torch.stack([small, small])}
    resized = metric(registries, name).update(sample(1, small, **fields))
    fields["topk_saliency"] = torch.stack([big, big])
    reference = metric(registries, name).update(sample(1, big, **fields))
    assert resized == reference
    with pytest.raises(InputValidationError, match="on_size_mismatch"):
        metric(registries, name, on_size_mismatch="error").update(sample(1, small, **fields))
