"""The embedded benchmark's classifiers: architectures, seeded training, caching, loading."""

from __future__ import annotations

import json
import time

import pytest
import torch
import xai_eval_cam
from PIL import Image

import xai_eval
from xai_eval.data.embedded import GeneratorConfig
from xai_eval.errors import UnknownNameError, UnsupportedModelError
from xai_eval.models import embedded as emb
from xai_eval.models.base import LoadedModel
from xai_eval.plugins import build_registries

GEN = GeneratorConfig(train=40, val=10, test=20)
TRAIN = emb.TrainConfig(epochs=1, batch_size=16)


@pytest.fixture(scope="module")
def tiny_bench(tmp_path_factory):
    return emb.ensure_embedded_benchmark(tmp_path_factory.mktemp("cache"), progress=False,
                                         generator=GEN, training=TRAIN)


def test_architectures_have_the_promised_heads():
    x = torch.randn(2, 3, 64, 64)
    gap = emb.build_embedded_network("gap").eval()
    fc = emb.build_embedded_network("fc").eval()
    assert gap(x).shape == fc(x).shape == (2, 5)
    assert gap.features(x).shape == (2, 64, 8, 8) and fc.features(x).shape == (2, 32, 8, 8)
    with pytest.raises(UnknownNameError, match="choose one of"):
        emb.build_embedded_network("vgg")


def test_a_few_training_steps_are_seeded():
    torch.manual_seed(1)
    x = torch.randn(16, 3, 64, 64)
    y = torch.arange(16) % 5
    runs = []
    for _ in range(2):
        torch.manual_seed(123)  # different global state must not matter: training reseeds
        model = emb.build_embedded_network("gap")
        summary = emb.train_classifier(model, x, y, emb.TrainConfig(epochs=4, batch_size=8),
                                       progress=False, max_steps=3)
        runs.append((summary, [p.detach().clone() for p in model.parameters()]))
    assert runs[0][0]["steps"] == 3 and runs[0][0]["final_loss"] > 0
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1], strict=True))


def test_benchmark_is_trained_once_cached_and_described(tiny_bench, monkeypatch):
    bench = tiny_bench
    assert bench.classes == ["disk", "square", "triangle", "ring", "cross"]
    assert set(bench.coco_json) == {"train", "val", "test"} and all(p.is_file() for p in bench.coco_json.values())
    assert all(p.is_file() for p in bench.model_paths.values())
    details = json.loads((bench.root / "models" / "gap.json").read_text())
    assert details["train"]["epochs"] == 1 and details["generator"]["train"] == 40
    assert set(details["accuracy"]) == {"train", "val", "test"}
    assert bench.accuracies["gap"] == details["accuracy"]["test"]

    def boom(*args, **kwargs):
        raise AssertionError("retrained although cached")

    monkeypatch.setattr(emb, "train_classifier", boom)
    again = emb.ensure_embedded_benchmark(bench.root.parent, progress=False, generator=GEN, training=TRAIN)
    assert again.accuracies == bench.accuracies


def test_loaded_models_explain_as_their_roles_promise(tiny_bench):
    cache = tiny_bench.root.parent
    gap = emb.load_embedded_model("gap", cache, progress=False, generator=GEN, training=TRAIN)
    fc = emb.load_embedded_model("fc", cache, progress=False, generator=GEN, training=TRAIN)
    assert isinstance(gap, LoadedModel) and gap.name == "embedded:gap" and gap.target_layer == "features"
    assert not gap.model.training and gap.input_size == (64, 64)
    image = Image.open(tiny_bench.image_dir["test"] / "00000.png")
    x = gap.preprocess(image)
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    assert gap.preprocess(image.resize((100, 100))).shape == (3, 64, 64)
    batch = x[None]
    reg = build_registries(extra_plugins=[xai_eval_cam], load_entry_points=False)
    cam = xai_eval.get_explainer("cam", gap.model, "features", reg).explain(batch, torch.tensor([0]))
    gradcam = xai_eval.get_explainer("gradcam", gap.model, "features", reg).explain(batch, torch.tensor([0]))
    # Grad-CAM = ReLU(CAM) / Z on a GAP -> linear head (Grad-CAM paper, eq. 5-6).
    assert torch.allclose(gradcam.raw, cam.raw.clamp(min=0) / 64, atol=1e-6)
    with pytest.raises(UnsupportedModelError, match="globally average-pooled"):
        xai_eval.get_explainer("cam", fc.model, "features", reg).explain(fc.preprocess(image)[None])
    with pytest.raises(UnknownNameError):
        emb.load_embedded_model("resnet", cache)


class _EmbeddedSourcePlugin:
    @xai_eval.hookimpl
    def xai_eval_register_models(self):
        return [emb.EmbeddedModelSource]


def test_model_source_accepts_only_embedded_specs_and_wins_over_import_paths():
    import xai_eval_models

    from xai_eval.models.loading import model_sources

    source = emb.EmbeddedModelSource()
    assert source.accepts("embedded:gap") and source.accepts("embedded:fc")
    assert not source.accepts("embedded:vgg") and not source.accepts("resnet50")
    reg = build_registries(extra_plugins=[xai_eval_models, _EmbeddedSourcePlugin()], load_entry_points=False)
    first = next(s for s in model_sources(reg) if s.accepts("embedded:fc"))
    assert isinstance(first, emb.EmbeddedModelSource)


@pytest.mark.slow
def test_full_training_reaches_90_percent_held_out(tmp_path):
    """The default benchmark as `xai-eval demo` builds it: both models, the real sizes."""
    started = time.perf_counter()
    bench = emb.ensure_embedded_benchmark(tmp_path, progress=False)
    elapsed = time.perf_counter() - started
    print(f"embedded benchmark built in {elapsed:.1f} s; test accuracy {bench.accuracies}")
    assert max(bench.accuracies.values()) >= 0.90
    assert min(bench.accuracies.values()) >= 0.80
