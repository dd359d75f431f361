"""Model randomisation (cascading, seeded) and the map-similarity measures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from xai_eval.errors import InputValidationError
from xai_eval.metrics.functional import map_similarity, randomize_model, ssim
from xai_eval.metrics.sanity import randomizable_layers


def _params(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_cascading_randomisation_from_the_top(tiny_cnn) -> None:
    assert [n for n, _ in randomizable_layers(tiny_cnn)] == ["conv1", "conv2", "fc"]
    before = _params(tiny_cnn)
    for depth, changed in ((1, {"fc"}), (2, {"fc", "conv2"}), ("all", {"fc", "conv2", "conv1"})):
        clone = randomize_model(tiny_cnn, depth, seed=3)
        after = _params(clone)
        for key in before:
            layer = key.split(".")[0]
            same = torch.equal(before[key], after[key])
            assert same == (layer not in changed), (depth, key)
    for key, value in _params(tiny_cnn).items():  # the original is untouched
        assert torch.equal(value, before[key])


def test_randomisation_is_seeded_and_leaves_the_global_rng_alone(tiny_cnn) -> None:
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    a = randomize_model(tiny_cnn, 2, seed=7)
    assert torch.equal(torch.rand(3), expected_next)
    b = randomize_model(tiny_cnn, 2, seed=7)
    c = randomize_model(tiny_cnn, 2, seed=8)
    assert torch.equal(a.fc.weight, b.fc.weight)
    assert not torch.equal(a.fc.weight, c.fc.weight)


def test_norm_layers_are_skipped_unless_asked() -> None:
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 2))
    assert [n for n, _ in randomizable_layers(model)] == ["0", "3"]
    assert [n for n, _ in randomizable_layers(model, include_norm=True)] == ["0", "1", "3"]
    with pytest.raises(InputValidationError, match="exceeds"):
        randomize_model(model, 3)
    with pytest.raises(InputValidationError, match="depth"):
        randomize_model(model, 0)


def test_similarity_measures() -> None:
    rng = np.random.default_rng(0)
    a = rng.random((16, 16))
    same = map_similarity(a, a)
    assert same["spearman_abs"] == pytest.approx(1.0)
    assert same["ssim"] == pytest.approx(1.0)
    assert map_similarity(a, -a)["spearman_abs"] == pytest.approx(1.0)  # absolute values
    assert map_similarity(a, a.max() - a)["spearman_abs"] == pytest.approx(-1.0)
    assert ssim(a, a * 5) == pytest.approx(1.0)  # each map is scaled by its own max
    assert ssim(a, rng.random((16, 16))) < 0.5
    zero = map_similarity(np.zeros((8, 8)), a[:8, :8])
    assert zero["spearman_abs"] is None and np.isfinite(zero["ssim"])
    assert np.isfinite(ssim(np.zeros((5, 5)), np.zeros((5, 5))))  # small maps: smaller window
