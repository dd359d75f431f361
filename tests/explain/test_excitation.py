"""Excitation Backprop (MWP) and c-MWP against hand-computed values and an independent reference.

Oracles:
- a 2x2-pixel conv/ReLU/linear network whose winning probabilities are worked out on paper;
- conservation: with positive weights and inputs every unit passes all of its probability
  down, so the map sums to exactly 1 at every layer (conv, BatchNorm, max/avg pooling,
  residual sums, linear);
- an explicit matrix implementation of the MWP rule (unfold/fold for convolutions, arg-max
  routing for max pooling) written here without autograd, for MWP and for c-MWP's definition
  ``max(0, sum_c(MWP(class) - MWP(dual unit)))``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

import xai_eval
from xai_eval.errors import InputValidationError, LayerResolutionError, UnsupportedModelError
from xai_eval.explain.state import count_hooks


def tiny_net() -> nn.Sequential:
    """Identity (the explained 'layer': the input) -> conv 2x2 -> ReLU -> linear with 3 classes."""
    net = nn.Sequential(nn.Identity(), nn.Conv2d(1, 2, kernel_size=2), nn.ReLU(), nn.Flatten(),
                        nn.Linear(2, 3)).double()
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[[[1.0, 0.0], [1.0, -1.0]]],
                                          [[[0.0, 1.0], [-1.0, 2.0]]]]))
        net[1].bias.copy_(torch.tensor([0.5, 2.0]))
        net[4].weight.copy_(torch.tensor([[2.0, -1.0], [-1.0, 3.0], [1.0, 2.0]]))
        net[4].bias.copy_(torch.tensor([0.0, 0.0, -1.0]))
    return net


TINY_X = torch.tensor([[[[1.0, 2.0], [3.0, 0.0]]]], dtype=torch.float64)
# Worked on paper. Hidden units: h1 = relu(1 + 3 + 0.5) = 4.5, h2 = relu(2 - 3 + 2) = 1.
# Input-side Z (bias ignored): h1: W+ = [[1,0],[1,0]] -> Z = 1 + 3 = 4; h2: W+ = [[0,1],[0,2]]
# -> Z = 2*1 + 0*2 = 2. So P(h1) goes 1/4 to x00 and 3/4 to x10; P(h2) goes wholly to x01.
# class 0, w = [2, -1]: Z = 9, P(h1) = 1, P(h2) = 0        -> [[1/4, 0], [3/4, 0]]
# class 1, w = [-1, 3]: Z = 3, P(h2) = 1                    -> [[0, 1], [0, 0]]
# class 2, w = [1, 2]:  Z = 4.5 + 2 = 6.5, P = (9/13, 4/13) -> [[9/52, 16/52], [27/52, 0]]
# Dual units (-w)+: class 0 -> [0, 1] -> [[0, 1], [0, 0]]; class 1 -> [1, 0] ->
# [[1/4, 0], [3/4, 0]]; class 2 -> [0, 0], Z = 0 -> passes nothing.
MWP_BY_HAND = torch.tensor([[[0.25, 0.0], [0.75, 0.0]],
                            [[0.0, 1.0], [0.0, 0.0]],
                            [[9 / 52, 16 / 52], [27 / 52, 0.0]]], dtype=torch.float64)
CMWP_BY_HAND = torch.tensor([[[0.25, 0.0], [0.75, 0.0]],   # [[1/4, -1], [3/4, 0]] truncated
                             [[0.0, 1.0], [0.0, 0.0]],     # [[-1/4, 1], [-3/4, 0]] truncated
                             [[9 / 52, 16 / 52], [27 / 52, 0.0]]], dtype=torch.float64)


def test_hand_computed_mwp_and_cmwp() -> None:
    net = tiny_net()
    targets = torch.tensor([[0, 1, 2]])
    mwp = xai_eval.get_explainer("excitation_backprop", net, target_layer="0").attribute(TINY_X, targets)
    cmwp = xai_eval.get_explainer("c_mwp", net, target_layer="0").attribute(TINY_X, targets)
    assert mwp.shape == (1, 3, 1, 2, 2)
    torch.testing.assert_close(mwp[0, :, 0], MWP_BY_HAND, rtol=0, atol=1e-15)
    torch.testing.assert_close(cmwp[0, :, 0], CMWP_BY_HAND, rtol=0, atol=1e-15)


def test_forward_values_are_unchanged() -> None:
    net = tiny_net()
    explanation = xai_eval.get_explainer("excitation_backprop", net, target_layer="0").explain(
        TINY_X, torch.tensor([[0, 1, 2]]))
    torch.testing.assert_close(explanation.scores, net(TINY_X).detach())
    assert explanation.scores[0, 0].item() == 8.0  # 2 * 4.5 - 1 * 1


class PositiveResNetLike(nn.Module):
    """Conv, BatchNorm, max pool, residual sum, average pool, linear — all weights positive."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(2))
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 5)
        torch.manual_seed(0)
        with torch.no_grad():
            for param in self.parameters():
                param.copy_(torch.rand_like(param) + 0.05)
            for bn in (self.stem[1], self.bn):
                bn.running_mean.zero_()
                bn.running_var.fill_(2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        out = self.bn(self.conv(x))
        out += x  # in-place residual, as torchvision's blocks write it
        out = self.relu(out)
        return self.fc(torch.flatten(self.pool(out), 1))


@pytest.mark.parametrize("layer", ["stem.0", "stem", "relu", "pool"])
def test_probability_mass_is_conserved(layer: str) -> None:
    model = PositiveResNetLike().double()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64) + 0.1
    targets = torch.tensor([[0, 3], [4, 1]])
    raw = xai_eval.get_explainer("excitation_backprop", model, target_layer=layer).attribute(x, targets)
    torch.testing.assert_close(raw.sum(dim=(-3, -2, -1)), torch.ones(2, 2, dtype=torch.float64))
    assert bool((raw >= 0).all())


def test_mass_conserved_on_torchvision_resnet() -> None:
    """TorchRay's ResNet-50 saliency layer is layer3; on resnet18 every unit's mass reaches it."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=6)
    x = torch.randn(1, 3, 32, 32)
    raw = xai_eval.get_explainer("excitation_backprop", model, target_layer="layer3").attribute(
        x, torch.tensor([[2, 5]]))
    torch.testing.assert_close(raw.sum(dim=(-3, -2, -1)), torch.ones(1, 2), rtol=0, atol=1e-4)


# --- independent reference ----------------------------------------------------------------

def _ebp_linear_matrix(a: torch.Tensor, weight: torch.Tensor, p_out: torch.Tensor) -> torch.Tensor:
    """P(a_j) = a_j sum_i W+_ij P_i / Z_i for a (N, J) input and (N, I) output probabilities."""
    w_pos = weight.clamp(min=0)
    z = a @ w_pos.T
    ratio = torch.where(z != 0, p_out / torch.where(z != 0, z, torch.ones_like(z)), torch.zeros_like(z))
    return a * (ratio @ w_pos)


def _ebp_conv_matrix(a: torch.Tensor, conv: nn.Conv2d, p_out: torch.Tensor) -> torch.Tensor:
    """The same rule with the convolution written as a matrix over unfolded patches."""
    n, _c, h, w = a.shape
    cols = F.unfold(a, conv.kernel_size, padding=conv.padding, stride=conv.stride)  # (N, CK, L)
    w_pos = conv.weight.detach().reshape(conv.out_channels, -1).clamp(min=0)          # (O, CK)
    z = torch.einsum("ok,nkl->nol", w_pos, cols)
    p = p_out.reshape(n, conv.out_channels, -1)
    ratio = torch.where(z != 0, p / torch.where(z != 0, z, torch.ones_like(z)), torch.zeros_like(z))
    contrib = cols * torch.einsum("ok,nol->nkl", w_pos, ratio)
    return F.fold(contrib, (h, w), conv.kernel_size, padding=conv.padding, stride=conv.stride)


def _activations(net: nn.Sequential, x: torch.Tensor) -> tuple[list[torch.Tensor], dict[int, torch.Tensor]]:
    """Every layer's input (acts[i] feeds net[i]) and the max-pool arg-max indices."""
    acts = [x]
    pool_idx: dict[int, torch.Tensor] = {}
    with torch.no_grad():
        for i, module in enumerate(net):
            if isinstance(module, nn.MaxPool2d):
                out, pool_idx[i] = F.max_pool2d(acts[-1], module.kernel_size, module.stride,
                                                return_indices=True)
            else:
                out = module(acts[-1])
            acts.append(out)
    return acts, pool_idx


def reference_down(net: nn.Sequential, x: torch.Tensor, p: torch.Tensor, start: int, stop: int,
                   sign: float = 1.0) -> torch.Tensor:
    """Pass P from the output of ``net[start]`` down to the output of ``net[stop]``.

    ``sign=-1`` negates the last linear layer's weights: the dual unit of c-MWP.
    """
    acts, pool_idx = _activations(net, x)
    last = net[-1]
    with torch.no_grad():
        for i in range(start, stop, -1):
            module, a = net[i], acts[i]
            if isinstance(module, nn.Linear):
                weight = module.weight * (sign if module is last else 1.0)
                p = _ebp_linear_matrix(a, weight, p)
            elif isinstance(module, nn.Conv2d):
                p = _ebp_conv_matrix(a, module, p)
            elif isinstance(module, nn.ReLU):
                p = p * (a > 0)
            elif isinstance(module, nn.MaxPool2d):
                flat = torch.zeros_like(a).flatten(2)
                flat.scatter_add_(2, pool_idx[i].flatten(2), p.flatten(2))
                p = flat.reshape(a.shape)
            elif isinstance(module, nn.Flatten):
                p = p.reshape(a.shape)
            else:
                raise AssertionError(f"reference has no rule for {module}")
    return p


def reference_mwp(net: nn.Sequential, x: torch.Tensor, cls: int, layer: int, sign: float) -> torch.Tensor:
    """MWP at the output of ``net[layer]`` for class ``cls``; ``sign=-1`` uses the dual unit."""
    with torch.no_grad():
        seed = torch.zeros_like(net(x))
    seed[:, cls] = 1.0
    return reference_down(net, x, seed, len(net) - 1, layer, sign)


def random_net() -> nn.Sequential:
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Identity(), nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 5, 3), nn.ReLU(), nn.Flatten(), nn.Linear(5 * 2 * 2, 7), nn.ReLU(),
        nn.Linear(7, 4),
    ).double()


@pytest.mark.parametrize("layer", [0, 2, 3, 5])
def test_mwp_and_cmwp_match_reference(layer: int) -> None:
    net = random_net()
    x = torch.rand(3, 3, 8, 8, dtype=torch.float64)
    targets = torch.tensor([[0, 1], [2, 3], [3, 0]])
    mwp = xai_eval.get_explainer("excitation_backprop", net, target_layer=str(layer)).attribute(x, targets)
    cmwp = xai_eval.get_explainer("c_mwp", net, target_layer=str(layer)).attribute(x, targets)
    for b in range(3):
        for k in range(2):
            cls = int(targets[b, k])
            ref = reference_mwp(net, x[b:b + 1], cls, layer, 1.0)[0]
            dual = reference_mwp(net, x[b:b + 1], cls, layer, -1.0)[0]
            torch.testing.assert_close(mwp[b, k, 0], ref.sum(0), rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(cmwp[b, k, 0], (ref - dual).sum(0).clamp(min=0),
                                       rtol=1e-10, atol=1e-12)
    assert float(cmwp.amax()) > 0 and bool((mwp != cmwp).any())


def test_cmwp_contrast_layer_option() -> None:
    """The classifier's input given by name (the ReLU before it) changes nothing; an earlier
    contrast point follows TorchRay's two-pass definition, checked against the reference."""
    net = random_net()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    default = xai_eval.get_explainer("c_mwp", net, target_layer="3").attribute(x, torch.tensor([1, 2]))
    named = xai_eval.get_explainer("c_mwp", net, target_layer="3", contrast_layer="8",
                                   classifier="9").attribute(x, torch.tensor([1, 2]))
    torch.testing.assert_close(default, named)
    # TorchRay's contrast at an earlier layer: the difference at the output of net[5] is
    # passed down to net[3].
    earlier = xai_eval.get_explainer("c_mwp", net, target_layer="3", contrast_layer="5").attribute(
        x, torch.tensor([1, 2]))
    for b, cls in enumerate((1, 2)):
        xb = x[b:b + 1]
        diff = reference_mwp(net, xb, cls, 5, 1.0) - reference_mwp(net, xb, cls, 5, -1.0)
        expected = reference_down(net, xb, diff, 5, 3).sum(1).clamp(min=0)
        torch.testing.assert_close(earlier[b], expected, rtol=1e-10, atol=1e-12)
    # Every rule is linear in P, so any contrast point separating the target layer from the
    # classifier gives the same map: MWP(class) - MWP(dual) at the target layer.
    torch.testing.assert_close(earlier, default, rtol=1e-10, atol=1e-12)
    with pytest.raises(LayerResolutionError, match="between the target layer and the classifier"):
        xai_eval.get_explainer("c_mwp", net, target_layer="5", contrast_layer="2").attribute(x, 1)


def test_k_targets_and_batch_equal_single_runs() -> None:
    net = random_net()
    x = torch.rand(3, 3, 8, 8, dtype=torch.float64)
    targets = torch.tensor([[0, 3], [1, 1], [2, 0]])
    for name in ("excitation_backprop", "c_mwp"):
        explainer = xai_eval.get_explainer(name, net, target_layer="3")
        together = explainer(x, targets)
        assert together.shape == (3, 2, 8, 8)
        for b in range(3):
            for k in range(2):
                single = explainer(x[b:b + 1], int(targets[b, k]))
                assert single.shape == (1, 8, 8)
                torch.testing.assert_close(together[b, k], single[0], rtol=1e-10, atol=1e-12)


def test_default_layer_and_maps_on_torchvision_vgg() -> None:
    torch.manual_seed(0)
    model = torchvision.models.vgg11(num_classes=5)
    model.train()
    x = torch.randn(2, 3, 32, 32)
    for name in ("excitation_backprop", "c_mwp"):
        explanation = xai_eval.get_explainer(name, model).explain(x)
        assert explanation.layer == "features.19"
        maps = explanation.maps_as_requested()
        assert maps.shape == (2, 32, 32) and maps.dtype == torch.float32
        assert bool(torch.isfinite(maps).all()) and bool((maps >= 0).all())
    assert model.training and count_hooks(model) == 0
    assert all(p.requires_grad and p.grad is None for p in model.parameters())


class GeluHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(F.gelu(self.conv(x)).mean((2, 3)))


def test_unsupported_layer_is_refused_and_state_restored() -> None:
    model = GeluHead()
    model.train()
    x = torch.rand(1, 3, 6, 6)
    for name in ("excitation_backprop", "c_mwp"):
        with pytest.raises(UnsupportedModelError, match="'gelu'.*no winning-probability rule"):
            xai_eval.get_explainer(name, model, target_layer="conv")(x, 0)
        assert model.training and count_hooks(model) == 0
        assert all(p.requires_grad and p.grad is None for p in model.parameters())


def test_bad_input_for_cmwp() -> None:
    net = tiny_net()
    with pytest.raises(InputValidationError, match="class indices"):
        xai_eval.get_explainer("c_mwp", net, target_layer="0")(TINY_X, lambda out: out[:, 0])
    with pytest.raises(InputValidationError, match="no weight tensor"):
        xai_eval.get_explainer("c_mwp", net, target_layer="0", classifier="2")(TINY_X, 0)
    with pytest.raises(UnsupportedModelError, match="classifier layer ran 0 times above the target"):
        xai_eval.get_explainer("c_mwp", random_net(), target_layer="3", classifier="1")(
            torch.rand(1, 3, 8, 8, dtype=torch.float64), 0)
    with pytest.raises(InputValidationError, match="no option"):
        xai_eval.get_explainer("excitation_backprop", net, contrast_layer="3")


def test_input_not_mutated_and_repeatable() -> None:
    net = random_net()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    before = x.clone()
    explainer = xai_eval.get_explainer("c_mwp", net, target_layer="2")
    first, second = explainer(x, [0, 1]), explainer(x, [0, 1])
    assert torch.equal(first, second) and torch.equal(x, before)
    assert not x.requires_grad and x.grad is None
