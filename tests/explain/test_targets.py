"""Targets: K classes per image in one call, batches, arg-max, and callable scores.

K targets must equal K single-target runs, a batch must equal its images run one by one
(peers: pytorch-grad-cam #264, #322, #328), and a callable target lets Grad-CAM explain any
differentiable output — here a segmentation model's class region.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import xai_eval
from xai_eval.errors import InputValidationError, UnsupportedModelError

from .conftest import for_every_explainer, make_explainer

TOL = {"rtol": 1e-5, "atol": 1e-7}


_explainer = make_explainer


@for_every_explainer
@pytest.mark.parametrize("batch", [1, 2, 3, 4])
def test_k_targets_equal_k_single_runs(gap_net: nn.Module, images: torch.Tensor, method: str,
                                       batch: int) -> None:
    x = images[:batch]
    targets = torch.tensor([[0, 3, 4], [1, 1, 2], [4, 0, 3], [2, 4, 1]])[:batch]
    explainer = _explainer(method, gap_net)
    together = explainer.explain(x, targets)
    assert together.maps.shape == (batch, 3, 16, 16)
    assert explainer(x, targets).shape == (batch, 3, 16, 16)
    for k in range(3):
        single = explainer.explain(x, targets[:, k])
        assert explainer(x, targets[:, k]).shape == (batch, 16, 16)
        torch.testing.assert_close(together.maps[:, k], single.maps[:, 0], **TOL)
        torch.testing.assert_close(together.raw[:, k], single.raw[:, 0], **TOL)
        torch.testing.assert_close(together.scores[:, k], single.scores[:, 0], **TOL)


@for_every_explainer
def test_batch_equals_per_image(gap_net: nn.Module, images: torch.Tensor, method: str) -> None:
    targets = torch.tensor([[0, 2], [1, 4], [3, 3], [2, 0]])
    explainer = _explainer(method, gap_net)
    batched = explainer(images, targets)
    for i in range(images.shape[0]):
        torch.testing.assert_close(batched[i:i + 1], explainer(images[i:i + 1], targets[i:i + 1]),
                                   **TOL)


def test_k_targets_on_a_torchvision_model(tv_model) -> None:
    model = tv_model("resnet18", num_classes=10)
    x = torch.randn(3, 3, 32, 32)
    targets = torch.tensor([[0, 5, 9], [1, 2, 3], [7, 7, 4]])
    for method in ("gradcam", "guided_backprop"):
        explainer = xai_eval.get_explainer(method, model)
        together = explainer(x, targets)
        for k in range(3):
            torch.testing.assert_close(together[:, k], explainer(x, targets[:, k]), **TOL)


def test_none_explains_the_predicted_class(gap_net: nn.Module, images: torch.Tensor) -> None:
    with torch.no_grad():
        predicted = gap_net(images).argmax(dim=1)
    for method in ("gradcam", "guided_gradcam", "backprop"):
        explainer = _explainer(method, gap_net)
        result = explainer.explain(images)
        assert torch.equal(result.class_ids[:, 0], predicted)
        torch.testing.assert_close(result.maps, explainer.explain(images, predicted).maps)
        assert explainer(images).shape == (4, 16, 16)


def test_target_forms_are_equivalent(gap_net: nn.Module, images: torch.Tensor) -> None:
    explainer = _explainer("gradcam", gap_net)
    reference = explainer(images, torch.tensor([2, 2, 2, 2]))
    for form in (2, [2, 2, 2, 2], torch.tensor(2), torch.tensor([[2], [2], [2], [2]])):
        maps = explainer(images, form)
        torch.testing.assert_close(maps.reshape(reference.shape), reference)


def test_callable_targets_match_class_targets(gap_net: nn.Module, images: torch.Tensor) -> None:
    explainer = _explainer("gradcam", gap_net)
    by_class = explainer(images, torch.tensor([[1, 3]] * 4))
    by_callable = explainer(images, lambda out: out[:, [1, 3]])
    torch.testing.assert_close(by_callable, by_class)
    assert explainer(images, lambda out: out[:, 1]).shape == (4, 16, 16)


@pytest.fixture(scope="module")
def segmenter() -> nn.Module:
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.segmentation.deeplabv3_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=4, aux_loss=False).eval()


def _region_score(cls: int, region: torch.Tensor):
    def score(output: dict[str, torch.Tensor]) -> torch.Tensor:
        return (output["out"][:, cls] * region).sum(dim=(-2, -1))
    return score


def test_gradcam_explains_a_segmentation_region(segmenter: nn.Module) -> None:
    x = torch.randn(2, 3, 64, 64)
    region = torch.zeros(64, 64)
    region[16:40, 8:30] = 1
    layer = "backbone.16"
    ours = xai_eval.get_explainer("gradcam", segmenter, target_layer=layer).explain(
        x, _region_score(2, region))
    # Oracle: the definition with plain autograd on the captured activation.
    store: list[torch.Tensor] = []
    module = dict(segmenter.named_modules())[layer]
    handle = module.register_forward_hook(lambda _m, _i, out: store.append(out))
    try:
        score = _region_score(2, region)(segmenter(x))
        (grads,) = torch.autograd.grad(score.sum(), store[0])
    finally:
        handle.remove()
    acts = store[0].detach()
    expected = (grads.mean(dim=(2, 3), keepdim=True) * acts).sum(1, keepdim=True).clamp(min=0)
    assert expected.abs().max() > 0
    torch.testing.assert_close(ours.raw[:, 0], expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.scores[:, 0], score.detach())
    assert ours.maps.shape == (2, 1, 64, 64) and ours.class_ids is None
    assert bool(torch.isfinite(ours.maps).all())


def test_segmentation_k_region_scores_in_one_call(segmenter: nn.Module) -> None:
    x = torch.randn(1, 3, 64, 64)
    region = torch.ones(64, 64)
    explainer = xai_eval.get_explainer("gradcam", segmenter, target_layer="backbone.16")
    both = explainer(x, lambda out: (out["out"] * region).sum(dim=(-2, -1))[:, [1, 3]])
    assert both.shape == (1, 2, 64, 64)
    torch.testing.assert_close(both[:, 1], explainer(x, _region_score(3, region)), **TOL)


def test_int_target_on_dict_output_says_use_a_callable(segmenter: nn.Module) -> None:
    explainer = xai_eval.get_explainer("gradcam", segmenter, target_layer="backbone.16")
    with pytest.raises(InputValidationError, match=r"dict with keys \['out'\].*callable"):
        explainer(torch.randn(1, 3, 32, 32), 1)


def test_cam_rejects_callables_but_gradcam_takes_them(gap_net: nn.Module,
                                                      images: torch.Tensor) -> None:
    with pytest.raises(UnsupportedModelError, match="gradcam"):
        _explainer("cam", gap_net)(images, lambda out: out[:, 0])
    assert _explainer("gradcam", gap_net)(images, lambda out: out[:, 0]).shape == (4, 16, 16)
