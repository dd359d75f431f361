"""Tiny fake plugins for the suite-runner tests: a box dataset, a model source, two metrics.

Loaded in-process through ``build_registries(extra_plugins=[...])`` and, for subprocess
tests, through ``xai-eval --plugins-dir`` (this file is copied into a temporary folder).
Everything is deterministic: weights come from a seeded generator, images from a seed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn as nn

from xai_eval import hookimpl
from xai_eval.data.base import Annotation, Dataset, DatasetItem
from xai_eval.errors import MissingResourceError
from xai_eval.metrics.base import Metric, MetricSample
from xai_eval.models.base import LoadedModel, ModelSource

SIZE = 32
NUM_CLASSES = 3


def make_dataset(root: Path, count: int = 10, corrupt: tuple[int, ...] = ()) -> Path:
    """Write ``count`` 40x36 PNGs with one or two coloured squares and annotations.json."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    records = []
    for index in range(count):
        pixels = (rng.random((36, 40, 3)) * 60).astype(np.uint8)
        objects = []
        for k in range(1 + index % 2):
            cls = (index + k) % NUM_CLASSES
            x0, y0 = 4 + 18 * k, 6 + 3 * (index % 4)
            pixels[y0:y0 + 12, x0:x0 + 12, cls] = 230
            objects.append({"class": cls, "box": [x0, y0, x0 + 12, y0 + 12]})
        name = f"img_{index:03d}.png"
        if index in corrupt:
            (root / name).write_bytes(b"this is not a png")
        else:
            Image.fromarray(pixels).save(root / name)
        records.append({"id": f"img{index:03d}", "file": name, "width": 40, "height": 36,
                        "label": objects[0]["class"], "objects": objects})
    (root / "annotations.json").write_text(json.dumps(records))
    return root


class FakeBoxes(Dataset):
    """Fake box dataset: PNGs plus annotations.json (tests only)."""

    name: ClassVar[str] = "fakeboxes"

    def __init__(self, root: str | Path, **options: Any) -> None:
        super().__init__(root, **options)
        path = Path(root) / "annotations.json"
        if not path.is_file():
            raise MissingResourceError(f"{path} is missing; a fakeboxes root needs annotations.json")
        self.records = json.loads(path.read_text())
        self.classes = ["red", "green", "blue"]

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> DatasetItem:
        record = self.records[index]
        annotations = []
        for obj in record["objects"]:
            x0, y0, x1, y1 = obj["box"]
            mask = np.zeros((record["height"], record["width"]), dtype=bool)
            mask[y0:y1, x0:x1] = True
            annotations.append(Annotation(obj["class"], (x0, y0, x1, y1), mask=mask))
        return DatasetItem(record["id"], self.root / record["file"], record["width"],
                           record["height"], annotations, {"label": record["label"]})

    def item_label(self, item: DatasetItem) -> int:
        return int(item.extras["label"])


class TinyGap(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(4, 6, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(6, NUM_CLASSES)
        with torch.no_grad():
            for parameter in self.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        delay = float(os.environ.get("FAKE_SLEEP", "0"))
        if delay:
            time.sleep(delay)
        return self.fc(self.features(x).mean(dim=(2, 3)))


class TinyFc(TinyGap):
    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(6 * 4, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = nn.functional.adaptive_avg_pool2d(self.features(x), 2)
        return self.head(pooled.flatten(1))


def _preprocess(image: Any) -> torch.Tensor:
    array = torch.tensor(np.array(image.convert("RGB")), dtype=torch.float32)
    return (array.permute(2, 0, 1) / 255.0 - 0.5) / 0.25


class FakeSource(ModelSource):
    """Fake model source: fake:gap and fake:fc (tests only)."""

    name: ClassVar[str] = "fakesource"

    def accepts(self, spec: str) -> bool:
        return spec in ("fake:gap", "fake:fc")

    def load(self, spec: str, device: str | torch.device = "cpu") -> LoadedModel:
        model = TinyGap() if spec == "fake:gap" else TinyFc()
        return LoadedModel(spec, model.eval(), _preprocess, ["red", "green", "blue"],
                           (SIZE, SIZE), target_layer="features")


class FakeHit(Metric):
    """Fake metric: is the map's peak inside a box of the class (mean over classes)."""

    name: ClassVar[str] = "fake_hit"
    requires: ClassVar[frozenset[str]] = frozenset({"gt_boxes"})
    params: ClassVar[dict[str, Any]] = {"noise": 0.0}

    def reset(self) -> None:
        self.hits: list[bool] = []

    def update(self, sample: MetricSample) -> dict[str, Any]:
        noise = torch.rand(sample.saliency.shape, generator=self.generator(sample))
        saliency = sample.saliency + self.config["noise"] * noise
        flat = int(saliency.argmax())
        y, x = divmod(flat, saliency.shape[1])
        hit = any(b[0] <= x < b[2] and b[1] <= y < b[3] for b in sample.gt_boxes.tolist())
        self.hits.append(hit)
        return {"hit": hit, "peak": float(saliency.max()), "draw": float(noise.double().sum())}

    def generator(self, sample: MetricSample) -> torch.Generator | None:
        """The sample's own stream (set by the runner)."""
        return None if sample.random is None else sample.random.torch()

    def compute(self) -> dict[str, float]:
        return {"hit": float(np.mean(self.hits))}

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, float]:
        by_class: dict[int, list[bool]] = {}
        for record in records:
            by_class.setdefault(record["class_id"], []).append(bool(record["hit"]))
        return {"class_mean_hit": float(np.mean([np.mean(v) for v in by_class.values()]))}


class FakeTopk(Metric):
    """Fake metric: top-1 class correct, using the top-k maps (tests the (B, K) targets)."""

    name: ClassVar[str] = "fake_topk"
    requires: ClassVar[frozenset[str]] = frozenset({"topk_saliency", "topk_classes"})

    def reset(self) -> None:
        pass

    def update(self, sample: MetricSample) -> dict[str, Any]:
        assert sample.topk_saliency is not None and sample.topk_classes is not None
        return {"top1_ok": int(sample.topk_classes[0]) == sample.gt_class,
                "k": int(sample.topk_saliency.shape[0]),
                "top1_map_sum": float(sample.topk_saliency[0].sum())}

    def compute(self) -> dict[str, float]:
        return {}


class FakeGlobalHit(FakeHit):
    """FakeHit drawing its noise from torch's global RNG (a legacy plugin: ``global_rng``)."""

    name: ClassVar[str] = "fake_global_hit"
    global_rng: ClassVar[bool] = True

    def generator(self, sample: MetricSample) -> torch.Generator | None:
        return None


@hookimpl
def xai_eval_register_datasets() -> list[type]:
    return [FakeBoxes]


@hookimpl
def xai_eval_register_models() -> list[type]:
    return [FakeSource]


@hookimpl
def xai_eval_register_metrics() -> list[type]:
    return [FakeHit, FakeTopk, FakeGlobalHit]


class FakeFussy(FakeTopk):
    """Fake metric that refuses images whose id ends in 3 (tests per-sample errors)."""

    name: ClassVar[str] = "fake_fussy"

    def update(self, sample: MetricSample) -> dict[str, Any]:
        from xai_eval.errors import InputValidationError

        if sample.image_id.endswith("3"):
            raise InputValidationError("this image has no usable box")
        return {"ok": True}


@hookimpl(specname="xai_eval_register_metrics")
def register_fussy() -> list[type]:
    return [FakeFussy]


class FakeWarns(FakeTopk):
    """Fake metric that warns on every image whose id ends in 2 (tests recorded warnings);
    it also checks that the batch context carries the model and explainer."""

    name: ClassVar[str] = "fake_warns"

    def update(self, sample: MetricSample) -> dict[str, Any]:
        import warnings

        assert sample.context.model is not None and sample.context.explainer is not None
        if sample.image_id.endswith("2"):
            warnings.warn(f"map of {sample.image_id} is degenerate", UserWarning, stacklevel=2)
        return {"ok": True}


@hookimpl(specname="xai_eval_register_metrics")
def register_warns() -> list[type]:
    return [FakeWarns]
