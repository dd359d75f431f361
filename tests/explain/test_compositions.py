"""Plugins stay independent: compositions look their parts up by name, the metric needs no plugin.

Guided Grad-CAM multiplies Grad-CAM (its own plugin) with guided backprop (the gradient
plugin). It finds guided backprop in the registries it was built from, so registries
without the gradient plugin still give CAM and Grad-CAM, and only the compositions refuse,
naming what is missing. The occlusion-correlation metric's occlusion map is core math
(:mod:`xai_eval.explain.occlusion`), so empty registries do not stop it either.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import xai_eval_cam
import xai_eval_gradients
from xai_eval_gradients import GuidedBackprop

import xai_eval
import xai_eval.plugins as plugins_module
from xai_eval import hookimpl
from xai_eval.errors import UnknownNameError
from xai_eval.metrics.faithfulness import occlusion_map
from xai_eval.plugins import Registries, build_registries


def test_cam_plugin_works_without_the_gradient_plugin(gap_net: nn.Module, images: torch.Tensor) -> None:
    only_cam = build_registries(extra_plugins=[xai_eval_cam], load_entry_points=False)
    assert "guided_backprop" not in only_cam.names("explainers")
    for name in ("cam", "gradcam"):
        maps = xai_eval.get_explainer(name, gap_net, registries=only_cam)(images, 1)
        assert maps.shape == (images.shape[0], *images.shape[-2:])
    for name, part in (("guided_gradcam", "guided_backprop"), ("deconv_gradcam", "deconvnet")):
        with pytest.raises(UnknownNameError, match=rf"{name} multiplies Grad-CAM with the '{part}'"):
            xai_eval.get_explainer(name, gap_net, registries=only_cam)


class CountingGuidedBackprop(GuidedBackprop):
    """Guided backprop that counts its calls: shows which class the composition used."""

    calls = 0

    def _raw(self, images, targets):
        type(self).calls += 1
        return super()._raw(images, targets)


class SpyPlugin:
    __name__ = "spy_gradients"

    @staticmethod
    @hookimpl
    def xai_eval_register_explainers() -> list[type]:
        return [CountingGuidedBackprop]


def test_guided_gradcam_uses_the_registered_pixel_explainer(gap_net: nn.Module,
                                                            images: torch.Tensor) -> None:
    spied = build_registries(extra_plugins=[xai_eval_cam, SpyPlugin], load_entry_points=False)
    plain = build_registries(extra_plugins=[xai_eval_cam, xai_eval_gradients],
                             load_entry_points=False)
    CountingGuidedBackprop.calls = 0
    ours = xai_eval.get_explainer("guided_gradcam", gap_net, registries=spied).attribute(images, 2)
    assert CountingGuidedBackprop.calls == 1
    reference = xai_eval.get_explainer("guided_gradcam", gap_net, registries=plain).attribute(images, 2)
    torch.testing.assert_close(ours, reference, rtol=0, atol=0)


def test_occlusion_map_needs_no_registered_explainer(monkeypatch) -> None:
    monkeypatch.setattr(plugins_module, "_default", Registries())  # nothing registered
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    image = torch.randn(3, 4, 4)
    out = occlusion_map(model, image, 1, patch_size=2, stride=2)
    weight = model[1].weight.detach()[1].view(3, 4, 4)
    # 2x2 windows tile the image: each pixel gets the logit drop of its own window
    contrib = (weight * image).sum(0)
    expected = contrib.view(2, 2, 2, 2).sum(dim=(1, 3)).repeat_interleave(2, 0).repeat_interleave(2, 1)
    np.testing.assert_allclose(out, expected.double().numpy(), rtol=1e-5, atol=1e-6)
