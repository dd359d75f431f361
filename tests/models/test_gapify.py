"""The CAM paper's gapify recipe: cut a CNN, add conv -> GAP/GMP -> linear, fine-tune."""

from __future__ import annotations

import pytest
import torch
import torchvision
import xai_eval_cam
from PIL import Image

import xai_eval
from xai_eval.data.embedded import EmbeddedDataset, GeneratorConfig, generate_embedded_dataset
from xai_eval.data.folder_csv import FolderCsvDataset
from xai_eval.errors import LayerResolutionError, UnsupportedModelError
from xai_eval.models.embedded import EmbeddedFcNet, make_preprocess
from xai_eval.models.gapify import (
    PAPER_CUTS,
    GapNet,
    finetune,
    gapify,
    largest_object_label,
    load_gapified,
    save_gapified,
)
from xai_eval.plugins import build_registries

CUT = "features.10"  # ReLU of the embedded FC net's third conv block: 16x16 maps at 64 px


@pytest.fixture(scope="module")
def registries():
    return build_registries(extra_plugins=[xai_eval_cam], load_entry_points=False)


@pytest.fixture(scope="module")
def tiny_train(tmp_path_factory):
    root = generate_embedded_dataset(tmp_path_factory.mktemp("emb"), GeneratorConfig(train=16, val=2, test=2),
                                     progress=False)
    return EmbeddedDataset(root, split="train")


def test_cut_and_head_shapes():
    base = EmbeddedFcNet().eval()
    net = gapify(base, CUT, num_classes=5, channels=24, input_size=(64, 64))
    assert isinstance(net, GapNet)
    assert net.cam_conv[0].in_channels == 32 and net.cam_conv[0].out_channels == 24
    assert net.cam_conv[0].kernel_size == (3, 3) and net.cam_conv[0].stride == (1, 1)
    x = torch.randn(2, 3, 64, 64)
    assert net(x).shape == (2, 5)
    with torch.no_grad():  # the trunk computes exactly what the original network did up to the cut
        expected = base.features[:11](x)
        assert torch.equal(net.trunk(x)["features"], expected)
    assert net.config == {"cut_at": CUT, "num_classes": 5, "channels": 24, "pool": "avg",
                          "in_channels": 32, "architecture": "EmbeddedFcNet"}


def test_bad_arguments_are_explained():
    base = EmbeddedFcNet()
    with pytest.raises(LayerResolutionError, match=r"no such module.*features\.10"):
        gapify(base, "features.99", 5, input_size=(64, 64))
    with pytest.raises(LayerResolutionError, match="cut earlier"):
        gapify(base, "classifier.1", 5, input_size=(64, 64))
    with pytest.raises(ValueError, match="pool must be one of"):
        gapify(base, CUT, 5, pool="median")


def test_cam_applies_to_gap_and_is_refused_for_max_pooling(tiny_train, registries):
    preprocess = make_preprocess(64)
    images = torch.stack([preprocess(tiny_train[i].load_image()) for i in range(2)])
    targets = torch.tensor([0, 3])
    gap = gapify(EmbeddedFcNet(), CUT, 5, channels=16, input_size=(64, 64))
    history = finetune(gap, tiny_train, epochs=1, lr=0.01, preprocess=preprocess, batch_size=8,
                       progress=False)
    assert history["steps"] == 2 and len(history["loss"]) == 1 and history["skipped"] == []
    cam = xai_eval.get_explainer("cam", gap, "cam_conv", registries).explain(images, targets)
    gradcam = xai_eval.get_explainer("gradcam", gap, "cam_conv", registries).explain(images, targets)
    assert cam.maps.shape == (2, 1, 64, 64) and cam.raw.shape[-2:] == (16, 16)
    assert torch.allclose(gradcam.raw, cam.raw.clamp(min=0) / 256, atol=1e-6)

    gmp = gapify(EmbeddedFcNet(), CUT, 5, channels=16, pool="max", input_size=(64, 64))
    finetune(gmp, tiny_train, epochs=1, lr=0.01, preprocess=preprocess, batch_size=8, progress=False)
    with pytest.raises(UnsupportedModelError, match="globally average-pooled"):
        xai_eval.get_explainer("cam", gmp, "cam_conv", registries).explain(images, targets)
    maps = xai_eval.get_explainer("gradcam", gmp, "cam_conv", registries)(images, targets)
    assert maps.shape == (2, 64, 64) and torch.isfinite(maps).all()


def test_finetune_on_batches_respects_trunk_lr_scale():
    torch.manual_seed(0)
    net = gapify(EmbeddedFcNet(), CUT, 3, channels=8, input_size=(64, 64))
    trunk_before = [p.detach().clone() for p in net.trunk.parameters()]
    head_before = [p.detach().clone() for p in net.head_parameters()]
    loader = [(torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 2, 0]))] * 3
    history = finetune(net, loader, epochs=2, lr=0.05, trunk_lr_scale=0.0, max_steps=4, progress=False)
    assert history["steps"] == 4 and len(history["loss"]) == 2
    assert all(torch.equal(a, b) for a, b in zip(trunk_before, net.trunk.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(head_before, net.head_parameters(), strict=True))
    assert not net.training


def test_finetune_skips_corrupt_images_and_needs_preprocess(tmp_path):
    root = tmp_path / "shots"
    root.mkdir()
    Image.new("RGB", (64, 64), (90, 20, 200)).save(root / "a.png")
    (root / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "annotations.csv").write_text("image,class,x1,y1,x2,y2\na.png,x,1,1,9,9\n"
                                          "a.png,y,0,0,30,30\nb.jpg,x,1,1,5,5\n")
    data = FolderCsvDataset(root)
    assert largest_object_label(data[0]) == 1
    net = gapify(EmbeddedFcNet(), CUT, 2, channels=8, input_size=(64, 64))
    with pytest.raises(ValueError, match="needs preprocess"):
        finetune(net, data, progress=False)
    history = finetune(net, data, preprocess=make_preprocess(64), progress=False)
    assert history["steps"] == 1 and len(history["skipped"]) == 1 and "b.jpg" in history["skipped"][0]


def test_save_and_load_roundtrip(tmp_path):
    net = gapify(EmbeddedFcNet(), CUT, 5, channels=8, pool="max", input_size=(64, 64)).eval()
    save_gapified(net, tmp_path / "gmp.pt")
    again = load_gapified(EmbeddedFcNet(), tmp_path / "gmp.pt")
    x = torch.randn(2, 3, 64, 64)
    assert isinstance(again.pool, torch.nn.AdaptiveMaxPool2d)
    assert torch.equal(net(x), again(x))


def test_paper_cut_points_give_the_paper_map_sizes():
    """AlexNet 13x13 after conv5, VGG16 14x14 after conv5_3 (Zhou et al. 2016, §3)."""
    x = torch.zeros(1, 3, 224, 224)
    alexnet = gapify(torchvision.models.alexnet(weights=None), PAPER_CUTS["alexnet"], 4, channels=8).eval()
    with torch.no_grad():
        assert alexnet.trunk(x)["features"].shape == (1, 256, 13, 13)
    assert alexnet.cam_conv[0].in_channels == 256
