"""Occlusion against closed forms on a linear model, batch-size invariance, and Captum.

For a linear model ``s_c(x) = w_c . x + b_c`` the drop when window S is filled with ``f`` is
``sum_{i in S} w_c,i (x_i - f)`` (all channels), so the map — the mean drop over the windows
covering a pixel — is computed here without running the model. Captum's ``Occlusion`` is a
test-only reference; it truncates its last window at the border where ours stays full size
and sits flush with it, so the two are compared where ``(H - patch) % stride == 0``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from captum.attr import Occlusion as CaptumOcclusion

import xai_eval
from xai_eval.errors import InputValidationError
from xai_eval.explain.occlusion import window_starts
from xai_eval.explain.state import count_hooks


def linear_model(height: int, width: int, classes: int = 3) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * height * width, classes)).double()


def closed_form(model: nn.Sequential, x: torch.Tensor, cls: int, starts: list[int], patch: int,
                fill: torch.Tensor, score: str = "logit") -> torch.Tensor:
    """Mean drop over covering windows, from the weights alone: (H, W)."""
    _c, height, width = x.shape
    weight = model[1].weight.detach()[:, :].reshape(-1, 3, height, width)
    bias = model[1].bias.detach()
    logits = (weight * x).sum(dim=(1, 2, 3)) + bias
    total = torch.zeros(height, width, dtype=x.dtype)
    count = torch.zeros(height, width, dtype=x.dtype)
    for y in starts:
        for x0 in starts:
            window = torch.zeros(height, width, dtype=torch.bool)
            window[y:y + patch, x0:x0 + patch] = True
            delta = (weight * (x - fill) * window).sum(dim=(1, 2, 3))  # drop of every logit
            if score == "logit":
                drop = delta[cls]
            else:
                drop = logits.softmax(0)[cls] - (logits - delta).softmax(0)[cls]
            total += drop * window
            count += window
    return total / count


def test_window_starts_cover_the_border() -> None:
    assert window_starts(6, 3, 2) == [0, 2, 3]
    assert window_starts(5, 3, 2) == [0, 2]
    assert window_starts(4, 4, 1) == [0]
    assert window_starts(7, 2, 2) == [0, 2, 4, 5]


@pytest.mark.parametrize("score", ["logit", "prob"])
def test_closed_form_on_linear_model(score: str) -> None:
    model = linear_model(6, 6)
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    targets = torch.tensor([[0, 2], [1, 0]])
    explainer = xai_eval.get_explainer("occlusion", model, patch_size=3, stride=2, fill=0.5, score=score)
    raw = explainer.attribute(x, targets)
    assert raw.shape == (2, 2, 1, 6, 6)
    fill = torch.tensor(0.5, dtype=torch.float64)
    for b in range(2):
        for k in range(2):
            expected = closed_form(model, x[b], int(targets[b, k]), [0, 2, 3], 3, fill, score)
            torch.testing.assert_close(raw[b, k, 0], expected, rtol=1e-10, atol=1e-12)
    maps = explainer(x, targets)
    torch.testing.assert_close(maps, raw[:, :, 0].clamp(min=0).float())


def test_mean_fill_and_rectangular_patch() -> None:
    model = linear_model(5, 5)
    x = torch.randn(1, 3, 5, 5, dtype=torch.float64)
    raw = xai_eval.get_explainer("occlusion", model, patch_size=(5, 5), stride=1,
                                 fill="mean").attribute(x, 1)
    # One window covering everything: every pixel gets s(x) - s(per-channel mean image).
    weight = model[1].weight.detach()[1].reshape(3, 5, 5)
    mean = x[0].mean(dim=(1, 2), keepdim=True)
    expected = (weight * (x[0] - mean)).sum()
    torch.testing.assert_close(raw[0, 0], torch.full((5, 5), float(expected), dtype=torch.float64))


def test_fraction_options_give_pixels() -> None:
    explainer = xai_eval.get_explainer("occlusion", linear_model(32, 32))
    assert explainer.geometry(32, 32) == ((4, 4), (2, 2))  # defaults: 1/8 of the side, half a patch
    assert explainer.geometry(224, 224) == ((28, 28), (14, 14))
    assert explainer.geometry(32, 64) == ((4, 4), (2, 2))


def small_cnn() -> nn.Sequential:
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 5))


def test_batch_size_does_not_change_the_result() -> None:
    model = small_cnn().double()
    x = torch.randn(2, 3, 12, 12, dtype=torch.float64)
    targets = torch.tensor([[0, 4], [2, 3]])
    one = xai_eval.get_explainer("occlusion", model, patch_size=4, stride=3, batch_size=1).attribute(x, targets)
    many = xai_eval.get_explainer("occlusion", model, patch_size=4, stride=3, batch_size=1000).attribute(x, targets)
    odd = xai_eval.get_explainer("occlusion", model, patch_size=4, stride=3, batch_size=7).attribute(x, targets)
    torch.testing.assert_close(one, many, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(odd, many, rtol=1e-12, atol=1e-12)
    explainer = xai_eval.get_explainer("occlusion", model, patch_size=4, stride=3, batch_size=7)
    for b in range(2):  # batch results equal per-image results, per target
        for k in range(2):
            alone = explainer.attribute(x[b:b + 1], int(targets[b, k]))
            torch.testing.assert_close(alone[0], many[b, k], rtol=1e-12, atol=1e-12)


def test_one_forward_per_occluded_image_for_all_targets() -> None:
    model = small_cnn()
    seen: list[int] = []
    handle = model.register_forward_pre_hook(lambda _m, inputs: seen.append(inputs[0].shape[0]))
    x = torch.randn(2, 3, 12, 12)
    windows = len(window_starts(12, 4, 2)) ** 2  # 5 x 5
    try:
        for targets in (torch.tensor([1, 2]), torch.tensor([[0, 1, 2], [3, 4, 0]])):
            seen.clear()
            xai_eval.get_explainer("occlusion", model, patch_size=4, stride=2, batch_size=8)(x, targets)
            assert seen[0] == 2  # the unoccluded images
            assert sum(seen[1:]) == 2 * windows and max(seen[1:]) <= 8
    finally:
        handle.remove()


@pytest.mark.parametrize("score", ["logit", "prob"])
def test_matches_captum_where_definitions_coincide(score: str) -> None:
    model = small_cnn().eval()
    x = torch.randn(2, 3, 12, 12)
    targets = torch.tensor([[1, 3], [0, 4]])
    ours = xai_eval.get_explainer("occlusion", model, patch_size=4, stride=2, fill=0.25,
                                  score=score).attribute(x, targets)

    def forward(inputs: torch.Tensor) -> torch.Tensor:
        out = model(inputs)
        return out.softmax(1) if score == "prob" else out

    captum = CaptumOcclusion(forward)
    for k in range(2):
        ref = captum.attribute(x, sliding_window_shapes=(3, 4, 4), strides=(3, 2, 2),
                               baselines=0.25, target=targets[:, k])
        torch.testing.assert_close(ref[:, 0], ref[:, 2])  # the window spans all channels
        torch.testing.assert_close(ours[:, k, 0], ref[:, 0], rtol=1e-4, atol=1e-6)


def test_callable_targets_score_every_occluded_image() -> None:
    model = linear_model(4, 4)
    x = torch.randn(1, 3, 4, 4, dtype=torch.float64)
    raw = xai_eval.get_explainer("occlusion", model, patch_size=2, stride=2).attribute(
        x, lambda out: out[:, 0] + out[:, 2])
    zero = torch.tensor(0.0, dtype=torch.float64)
    expected = closed_form(model, x[0], 0, [0, 2], 2, zero) + closed_form(model, x[0], 2, [0, 2], 2, zero)
    torch.testing.assert_close(raw[0, 0], expected)


def test_predicted_class_and_state_restored() -> None:
    model = small_cnn()
    model.train()
    x = torch.randn(2, 3, 8, 8)
    explanation = xai_eval.get_explainer("occlusion", model, patch_size=2, stride=2,
                                         progress=True).explain(x)
    model.eval()
    with torch.no_grad():
        predicted = model(x).argmax(1, keepdim=True)
    model.train()
    assert torch.equal(explanation.class_ids, predicted)
    maps = explanation.maps_as_requested()
    assert maps.shape == (2, 8, 8) and bool((maps >= 0).all()) and bool(torch.isfinite(maps).all())
    assert model.training and count_hooks(model) == 0
    assert all(p.requires_grad and p.grad is None for p in model.parameters())


def test_bad_options_are_refused() -> None:
    model = small_cnn()
    x = torch.randn(1, 3, 8, 8)
    with pytest.raises(InputValidationError, match="larger than the 8x8 image"):
        xai_eval.get_explainer("occlusion", model, patch_size=9)(x, 0)
    with pytest.raises(InputValidationError, match="stride <= patch_size"):
        xai_eval.get_explainer("occlusion", model, patch_size=2, stride=3)(x, 0)
    with pytest.raises(InputValidationError, match="fraction must lie in"):
        xai_eval.get_explainer("occlusion", model, patch_size=1.5)(x, 0)
    with pytest.raises(InputValidationError, match="fill must be"):
        xai_eval.get_explainer("occlusion", model, fill="gray")
    with pytest.raises(InputValidationError, match="score must be one of"):
        xai_eval.get_explainer("occlusion", model, score="softmax")
    with pytest.raises(InputValidationError, match="batch_size must be a positive int"):
        xai_eval.get_explainer("occlusion", model, batch_size=0)
    with pytest.raises(InputValidationError, match="score='prob'"):
        xai_eval.get_explainer("occlusion", model, score="prob", patch_size=4)(x, lambda out: out[:, 0])
