"""Batched deletion/insertion curves against the per-sample code they replaced.

One sample must give the per-sample code's numbers bit for bit (same chunks, same
arithmetic). Several samples share forwards: exact on a model whose outputs do not depend
on the batch (a linear model on exact binary fractions), within float32 rounding on a CNN.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from xai_eval.errors import InputValidationError
from xai_eval.metrics.curves import chunk_size_for, perturbation_curves
from xai_eval.metrics.faithfulness import (
    blur_image,
    deletion_auc,
    deletion_aucs,
    insertion_auc,
    insertion_aucs,
    perturbation_curve,
)

from .conftest import TinyCNN
from .reference_curves import reference_auc, reference_curve


def _samples(n: int, size: int = 12, seed: int = 0, channels_last: bool = False
             ) -> tuple[torch.Tensor, list, list[int]]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 3, size, size, generator=generator)
    if channels_last:  # what HWC pixels permuted to CHW give (the embedded preprocess)
        images = images.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
    maps = [torch.rand(size, size, generator=generator) for _ in range(n)]
    maps[0] = torch.round(maps[0] * 3)  # ties: raster order decides
    targets = [int(t) for t in torch.randint(0, 3, (n,), generator=generator)]
    return images, maps, targets


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("step,batch_size", [(1, 32), (7, 5), (144, 2), (50, 1)])
def test_one_sample_equals_the_per_sample_code_bit_for_bit(step: int, batch_size: int,
                                                          channels_last: bool) -> None:
    model = TinyCNN().eval()
    images, maps, targets = _samples(3, channels_last=channels_last)
    for image, sal, target in zip(images, maps, targets, strict=True):
        for start, finish in ((image, torch.zeros(3, 1, 1)), (blur_image(image, 3, 1.0), image)):
            expected = reference_curve(model, image, target, sal, start, finish, step,
                                       batch_size=batch_size)
            got = perturbation_curve(model, image, target, sal, start, finish, step,
                                     batch_size=batch_size)
            assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
        assert deletion_auc(model, image, target, sal, step, batch_size=batch_size) == \
            reference_auc(*reference_curve(model, image, target, sal, image,
                                           torch.zeros(3, 1, 1), step, batch_size=batch_size))


def _binary_linear() -> nn.Module:
    """logits = W x with small integer weights: every score is exact in float32, whatever
    the batch, so batched and per-sample curves must agree exactly."""
    fc = nn.Linear(3 * 8 * 8, 3, bias=False)
    with torch.no_grad():
        fc.weight.copy_(torch.randint(-2, 3, fc.weight.shape).float())
    return nn.Sequential(nn.Flatten(), fc)


def test_many_samples_equal_per_sample_exactly_on_an_exact_model() -> None:
    model = _binary_linear()
    images = torch.randint(-2, 3, (5, 3, 8, 8)).float()
    _, maps, targets = _samples(5, size=8, seed=1)
    for step, batch_size in ((1, 7), (5, 32), (64, 3)):
        fractions, scores = perturbation_curves(model, images, targets, maps, images,
                                                torch.zeros(1), step, output="logit",
                                                batch_size=batch_size)
        for i in range(5):
            ref = reference_curve(model, images[i], targets[i], maps[i], images[i],
                                  torch.zeros(1), step, output="logit", batch_size=batch_size)
            assert np.array_equal(fractions, ref[0]) and np.array_equal(scores[i], ref[1])


def test_batched_aucs_match_per_sample_on_a_cnn() -> None:
    model = TinyCNN().eval()
    images, maps, targets = _samples(6)
    for step in (1, 10, 40):
        for batch_size in (4, 32, 1000):
            got = deletion_aucs(model, images, targets, maps, step, batch_size=batch_size)
            want = [deletion_auc(model, images[i], targets[i], maps[i], step) for i in range(6)]
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)
            got = insertion_aucs(model, images, targets, maps, step, 3, 1.0,
                                 batch_size=batch_size)
            want = [insertion_auc(model, images[i], targets[i], maps[i], step, 3, 1.0)
                    for i in range(6)]
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)


def test_batched_curves_restore_the_training_flag_and_refuse_bad_input() -> None:
    model = TinyCNN().train()
    images, maps, targets = _samples(2)
    deletion_aucs(model, images, targets, maps, 36)
    assert model.training
    with pytest.raises(InputValidationError, match="2 images need 2 targets"):
        deletion_aucs(model, images, targets[:1], maps, 36)
    with pytest.raises(InputValidationError, match="target class 9"):
        deletion_aucs(model, images, [0, 9], maps, 36)
    with pytest.raises(InputValidationError, match="NaN"):
        deletion_aucs(model, images, targets, [maps[0], torch.full((12, 12), float("nan"))], 36)
    with pytest.raises(InputValidationError, match=r"\(N, C, H, W\)"):
        perturbation_curves(model, images[0], targets, maps, images, images, 4)
    assert deletion_aucs(model, images[:0], [], [], 4).shape == (0,)


def test_chunk_size_follows_the_memory_budget() -> None:
    image = torch.zeros(3, 224, 224)
    per_image = 3 * 224 * 224 * 4 * 64.0
    assert chunk_size_for(image, 10 * per_image) == 10
    assert chunk_size_for(image, 1.0) == 1


def test_torchcam_deletion_agrees() -> None:
    """Peer oracle: torchcam's DeletionInsertionMetric (RISE deletion, zero baseline,
    positions ranked by the CAM) on the same maps and steps."""
    metrics = pytest.importorskip("torchcam.metrics")
    model = TinyCNN().eval()
    images, _, _ = _samples(4, size=16, seed=3)
    maps = torch.rand(4, 16, 16, generator=torch.Generator().manual_seed(4))

    class FixedMaps:
        """The minimal CAM-extractor interface torchcam's metric calls."""

        def __init__(self) -> None:
            self.model = model

        def __call__(self, class_idx=None, scores=None, normalized=True, **kwargs):
            return [maps[:, None]]

        def fuse_cams(self, cams):
            return cams[0][:, 0]

        def _hooks_off(self):
            import contextlib

            return contextlib.nullcontext()

    peer = metrics.DeletionInsertionMetric(FixedMaps(), lambda logits: torch.softmax(logits, -1),
                                           steps=16, batch_size=8)
    targets = [1, 0, 2, 1]
    peer.update(images, class_idx=targets)
    ours = deletion_aucs(model, images, targets, list(maps), step=16, output="softmax")
    assert peer.summary()["deletion_auc"] == pytest.approx(float(ours.mean()), abs=1e-5)
