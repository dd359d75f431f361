"""Score-CAM, Ablation-CAM and RISE against pytorch-grad-cam, torchcam and hand loops.

Score-CAM's peers interpolate their masks differently (pytorch-grad-cam with
align_corners=True, torchcam normalising before upsampling), so they are compared on a
target layer at the input's own size, where no interpolation happens: then the method is
the same computation and the maps agree to float rounding (float64 model; pytorch-grad-cam
rounds its result to float32, hence 1e-5 on [0, 1] maps). Ablation-CAM is compared with
pytorch-grad-cam on a layer below the input size (it interpolates nothing). RISE has no
peer in these libraries: a per-mask, per-class loop over the same masks is the oracle.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

import xai_eval
from xai_eval.errors import InputValidationError

pgc = pytest.importorskip("pytorch_grad_cam")
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget  # noqa: E402


class FullResNet(nn.Module):
    """features at the input's size (no stride), then a pooled conv head: Score-CAM's oracle net."""

    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.Conv2d(6, 8, 3, padding=1, stride=2), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class StridedNet(FullResNet):
    def __init__(self, classes: int = 5) -> None:
        super().__init__(classes)
        self.features = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, stride=2), nn.ReLU())


def _net(cls: type) -> nn.Module:
    torch.manual_seed(0)
    return cls().double().eval()


@pytest.fixture
def x() -> torch.Tensor:
    return torch.randn(2, 3, 10, 10, generator=torch.Generator().manual_seed(3)).double()


def minmax(maps: torch.Tensor, eps: float = 0.0) -> np.ndarray:
    maps = maps.double()
    low = maps.flatten(-2).amin(-1)[..., None, None]
    high = (maps - low).flatten(-2).amax(-1)[..., None, None]
    return ((maps - low) / (high + eps)).numpy()


def pgc_maps(cls_name: str, model: nn.Module, x: torch.Tensor, classes: list[int],
             **kwargs: object) -> np.ndarray:
    cam = getattr(pgc, cls_name)(model=model, target_layers=[model.features], **kwargs)
    cam.get_target_width_height = lambda _t: None  # the layer's own size
    return cam(input_tensor=x, targets=[ClassifierOutputTarget(c) for c in classes])


TARGETS = torch.tensor([[0, 3, 4], [2, 2, 1]])


def test_scorecam_agrees_with_pytorch_grad_cam(x: torch.Tensor) -> None:
    net = _net(FullResNet)
    ours = xai_eval.get_explainer("scorecam", net, target_layer="features", batch_size=7
                                  ).attribute(x, TARGETS)
    for k in range(3):
        reference = pgc_maps("ScoreCAM", net, x, TARGETS[:, k].tolist())
        np.testing.assert_allclose(minmax(ours[:, k, 0]), reference, atol=1e-5)


def test_scorecam_agrees_with_torchcam(x: torch.Tensor) -> None:
    torchcam = pytest.importorskip("torchcam.methods")
    net = _net(FullResNet)
    ours = xai_eval.get_explainer("scorecam", net, target_layer="features").attribute(x, TARGETS)
    for k in range(3):
        with torchcam.ScoreCAM(net, target_layer="features", batch_size=5) as extractor:
            reference = extractor(TARGETS[:, k].tolist(), net(x))[0]
        np.testing.assert_allclose(minmax(ours[:, k, 0], 1e-8), reference.double().numpy(),
                                   atol=1e-5)


def test_scorecam_by_hand_and_batch_size_invariance(x: torch.Tensor) -> None:
    net = _net(StridedNet)
    explainer = xai_eval.get_explainer("scorecam", net, target_layer="features", score="prob")
    ours = explainer.attribute(x, TARGETS)
    with torch.no_grad():
        acts = net.features(x)
        up = torch.nn.functional.interpolate(acts, size=(10, 10), mode="bilinear",
                                             align_corners=False)
        for b in range(2):
            for k in range(3):
                c = int(TARGETS[b, k])
                scores = []
                for ch in range(6):
                    m = up[b, ch]
                    m = (m - m.min()) / (m.max() - m.min()) if m.max() > m.min() else m * 0
                    scores.append(net(x[b:b + 1] * m).softmax(1)[0, c])
                w = torch.stack(scores).softmax(0)
                expected = (w[:, None, None] * acts[b]).sum(0).clamp(min=0)
                torch.testing.assert_close(ours[b, k, 0], expected, rtol=1e-6, atol=1e-9)
    other = xai_eval.get_explainer("scorecam", net, target_layer="features", score="prob",
                                   batch_size=1).attribute(x, TARGETS)
    torch.testing.assert_close(other, ours, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cls", [StridedNet, FullResNet])
def test_ablationcam_agrees_with_pytorch_grad_cam(cls: type, x: torch.Tensor) -> None:
    net = _net(cls)
    ours = xai_eval.get_explainer("ablationcam", net, target_layer="features", batch_size=4
                                  ).attribute(x, TARGETS)
    for k in range(3):
        reference = pgc_maps("AblationCAM", net, x, TARGETS[:, k].tolist(), batch_size=4)
        np.testing.assert_allclose(minmax(ours[:, k, 0]), reference, atol=1e-5)


def test_ablationcam_by_hand_and_the_fallback_path(x: torch.Tensor) -> None:
    class BatchFromInput(StridedNet):
        """Reshapes with the *input's* batch size, as EfficientNet-PyTorch does."""

        def forward(self, inp: torch.Tensor) -> torch.Tensor:
            feats = self.head[:3](self.features(inp))
            return self.head[4](feats.reshape(inp.shape[0], -1))

    net = _net(StridedNet)
    reshaping = _net(BatchFromInput)
    with torch.no_grad():
        acts = net.features(x)
        base = net(x)
        expected = torch.zeros(2, 3, 5, 5, dtype=torch.float64)
        for b in range(2):
            for k in range(3):
                c = int(TARGETS[b, k])
                weights = []
                for ch in range(6):
                    ablated = acts[b:b + 1].clone()
                    ablated[:, ch] = 0
                    weights.append((base[b, c] - net.head(ablated)[0, c]) / base[b, c])
                w = torch.stack(weights)
                expected[b, k] = (w[:, None, None] * acts[b]).sum(0).clamp(min=0)
    for model in (net, reshaping):
        explainer = xai_eval.get_explainer("ablationcam", model, target_layer="features",
                                           batch_size=4)
        ours = explainer.attribute(x, TARGETS)
        torch.testing.assert_close(ours[:, :, 0], expected, rtol=1e-6, atol=1e-9)
        assert explainer._expand_ok is (model is net)  # the reshaping one fell back


def test_rise_is_the_mask_loop_on_the_same_masks(x: torch.Tensor) -> None:
    net = _net(StridedNet)
    explainer = xai_eval.get_explainer("rise", net, n_masks=20, grid=3, p=0.4, seed=5,
                                       batch_size=7)
    ours = explainer.attribute(x, TARGETS)
    masks = explainer.masks((10, 10), torch.float64)
    assert masks.shape == (20, 1, 10, 10) and float(masks.min()) >= 0 and float(masks.max()) <= 1
    with torch.no_grad():
        for b in range(2):
            for k in range(3):
                c = int(TARGETS[b, k])
                total = sum(net(x[b:b + 1] * masks[i]).softmax(1)[0, c] * masks[i, 0]
                            for i in range(20))
                torch.testing.assert_close(ours[b, k, 0], total / (20 * 0.4), rtol=1e-9,
                                           atol=1e-12)
    again = xai_eval.get_explainer("rise", net, n_masks=20, grid=3, p=0.4, seed=5, batch_size=64)
    torch.testing.assert_close(again.attribute(x, TARGETS), ours, rtol=1e-9, atol=1e-12)
    other_seed = xai_eval.get_explainer("rise", net, n_masks=20, grid=3, p=0.4, seed=6)
    assert not torch.allclose(other_seed.attribute(x, TARGETS), ours)


def test_rise_masks_follow_the_recipe() -> None:
    from xai_eval_perturbation.rise import rise_masks

    masks = rise_masks(4000, 7, 0.5, (28, 28), seed=0, dtype=torch.float64)
    # each pixel is a bilinear mix of cells kept with probability p: mean p
    assert abs(float(masks.mean()) - 0.5) < 0.01
    binary = rise_masks(50, 4, 0.3, (8, 8), seed=1)
    assert binary.shape == (50, 1, 8, 8)


@pytest.mark.parametrize(("method", "options", "match"), [
    ("scorecam", {"score": "softmax"}, "score must be one of"),
    ("scorecam", {"batch_size": 0}, "batch_size must be a positive int"),
    ("ablationcam", {"batch_size": 1.5}, "batch_size must be a positive int"),
    ("rise", {"p": 0.0}, r"p must be a number in \(0, 1\]"),
    ("rise", {"n_masks": -3}, "n_masks must be a positive int"),
    ("rise", {"seed": "a"}, "seed must be an int"),
])
def test_bad_options_are_refused(method: str, options: dict, match: str) -> None:
    with pytest.raises(InputValidationError, match=match):
        xai_eval.get_explainer(method, _net(StridedNet), target_layer="features", **options)
