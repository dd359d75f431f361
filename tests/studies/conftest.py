"""Fixtures of the study tests: a tiny fake dataset and two tiny models (no downloads).

Images are 32x32 textures coloured by their first class (red/green/blue), so hand-set
models classify them by colour: the "strong" model is right on every image, the "weak" one
only on red and green images, which gives the trust task a known qualifying set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

from xai_eval.data.base import Annotation, DatasetItem
from xai_eval.db.base import make_engine, session_factory
from xai_eval.db.migrate import upgrade
from xai_eval.models.base import LoadedModel

CLASSES = ["red", "green", "blue"]
#: (classes present) per image: two-class images for class discrimination, single for trust
LAYOUT = [(0, 1), (1, 2), (0, 2), (1, 0), (2, 1), (2, 0), (0,), (1,), (2,), (0,), (1,), (2,)]


class FakeDataset:
    """Sized/indexable like :class:`xai_eval.data.Dataset`, backed by PNGs in a folder."""

    name = "fake"

    def __init__(self, root: Path, layout=LAYOUT) -> None:
        self.classes = list(CLASSES)
        self.items = []
        rng = np.random.default_rng(0)
        root.mkdir(parents=True, exist_ok=True)
        for index, present in enumerate(layout):
            pixels = rng.uniform(0, 60, size=(32, 32, 3))
            pixels[..., present[0]] += 180
            path = root / f"img{index:03d}.png"
            Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(path)
            annotations = [Annotation(c, (0.0, 0.0, 31.0, 31.0)) for c in present]
            self.items.append(DatasetItem(f"img{index:03d}", path, 32, 32, annotations))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> DatasetItem:
        return self.items[index]


def _preprocess(image: Image.Image) -> torch.Tensor:
    arr = np.asarray(image.convert("RGB").resize((32, 32)), dtype=np.float32) / 255
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


def colour_model(weak: bool) -> nn.Module:
    """Conv -> ReLU -> conv -> ReLU -> GAP -> linear; classifies by the dominant colour.
    The weak model confuses blue with red."""
    torch.manual_seed(1 if weak else 2)
    net = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 3, 1), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 3))
    with torch.no_grad():
        net[0].weight.mul_(0.05)
        net[0].weight[:, :, 1, 1] += torch.eye(3)
        net[0].bias.zero_()
        net[2].weight.copy_(torch.eye(3)[:, :, None, None] + 0.01)
        net[2].bias.zero_()
        net[6].weight.copy_(torch.eye(3) * 5)
        net[6].bias.zero_()
        if weak:
            net[6].weight[0, 2] = 10.0  # blue evidence votes "red"
    return net.eval()


@pytest.fixture(scope="session")
def fake_models() -> dict[str, LoadedModel]:
    return {name: LoadedModel(name, colour_model(weak=name == "weak"), _preprocess,
                              list(CLASSES), (32, 32), "2")
            for name in ("strong", "weak")}


@pytest.fixture(scope="session")
def fake_dataset(tmp_path_factory) -> FakeDataset:
    return FakeDataset(tmp_path_factory.mktemp("fake_images"))


def write_definition(path: Path, task: str = "class_discrimination", **parameters) -> Path:
    """A small study file for the fake dataset/models."""
    import yaml

    params = {"trials_per_participant": 4, "practice_trials": 1, "attention_checks": 1,
              "seed": 0}
    params.update(parameters)
    if task == "trust":
        params.setdefault("stronger_model", "strong")
    data = {
        "slug": f"test_{task}", "title": f"Test {task}", "task": task,
        "dataset": {"name": "embedded"},
        "models": [{"name": "strong", "spec": "embedded:gap"},
                   {"name": "weak", "spec": "embedded:fc"}],
        "explainers": [{"name": "guided_backprop"}, {"name": "guided_gradcam"}],
        "render": {"size": 32},
        "parameters": params,
    }
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def build_fake(fake_dataset, fake_models, tmp_path):
    """``build_fake(db_url, task="...", **params)`` builds a small study on the fakes."""
    from xai_eval.studies.build import build_study

    def build(db_url: str, task: str = "class_discrimination", **params):
        path = write_definition(tmp_path / f"{task}.yaml", task, **params)
        return build_study(path, db_url, dataset=fake_dataset, models=fake_models)

    return build


@pytest.fixture
def study_db(db_url, build_fake):
    """A built class-discrimination study on each backend: (sessionmaker, slug)."""
    build_fake(db_url)
    engine = make_engine(db_url)
    yield session_factory(engine), "test_class_discrimination"
    engine.dispose()


__all__ = ["FakeDataset", "colour_model", "upgrade", "write_definition"]
