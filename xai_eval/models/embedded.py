"""The embedded benchmark's two classifiers, trained on the CPU and cached next to the data.

Two roles from the papers' tables, each small enough to train in about a minute on 2 cores:

- ``gap`` (the ResNet / "GoogLeNet-GAP" role): conv stack -> global average pooling -> one
  linear layer, so CAM applies exactly (Zhou et al. 2016) and Grad-CAM equals ReLU(CAM)/Z;
- ``fc`` (the VGG / AlexNet role): conv stack -> flatten -> two fully connected layers, so
  CAM refuses it and Grad-CAM is the method of choice.

Both explain at ``target_layer="features"`` (8x8 maps at 64x64 input). Weights are
state-dict files ``models/<kind>.pt`` beside the data, with ``models/<kind>.json`` holding
the held-out accuracies and the training configuration; later runs load them without
retraining. Training is seeded (``torch.manual_seed``) and single-process.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from xai_eval.data.embedded import (
    CLASSES,
    SPLITS,
    GeneratorConfig,
    ensure_embedded_data,
    load_split_arrays,
)
from xai_eval.errors import UnknownNameError
from xai_eval.models.base import LoadedModel, ModelSource

KINDS = ("gap", "fc")
MEAN = (0.5, 0.5, 0.5)
STD = (0.25, 0.25, 0.25)


def conv_block(cin: int, cout: int, pool: bool) -> list[nn.Module]:
    """3x3 conv (no bias) + BatchNorm + ReLU, then a 2x2 max-pool if ``pool``: both benchmarks' nets."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
    return layers + ([nn.MaxPool2d(2)] if pool else [])


class EmbeddedGapNet(nn.Module):
    """Conv stack -> GAP -> linear: the CAM-compatible classifier of the embedded benchmark."""

    def __init__(self, num_classes: int = len(CLASSES), width: int = 16) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            *conv_block(3, w, True), *conv_block(w, 2 * w, True), *conv_block(2 * w, 4 * w, True), *conv_block(4 * w, 4 * w, False)
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class EmbeddedFcNet(nn.Module):
    """Conv stack -> flatten -> two FC layers: the VGG/AlexNet-role classifier (no GAP head)."""

    def __init__(self, num_classes: int = len(CLASSES), width: int = 16, image_size: int = 64) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(*conv_block(3, w, True), *conv_block(w, 2 * w, True), *conv_block(2 * w, 2 * w, True))
        side = image_size // 8
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(2 * w * side * side, 128), nn.ReLU(), nn.Dropout(0.3),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build_embedded_network(kind: str, image_size: int = 64) -> nn.Module:
    """An untrained network of the given kind (``"gap"`` or ``"fc"``)."""
    if kind == "gap":
        return EmbeddedGapNet()
    if kind == "fc":
        return EmbeddedFcNet(image_size=image_size)
    raise UnknownNameError(f"unknown embedded model kind {kind!r}; choose one of {KINDS}")


@dataclass(frozen=True)
class TrainConfig:
    """How the two classifiers are trained (part of the cache key)."""

    epochs: int = 6
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0


@dataclass
class EmbeddedBenchmark:
    """Where everything of the embedded benchmark lies, and how good its models are."""

    root: Path
    coco_json: dict[str, Path]
    image_dir: dict[str, Path]
    classes: list[str]
    model_paths: dict[str, Path]
    accuracies: dict[str, float]  # held-out (test split) top-1 accuracy per model kind
    details: dict[str, dict[str, Any]] = field(default_factory=dict)  # the models/<kind>.json


def to_input(pixels: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> normalised float (N, 3, H, W)."""
    x = torch.as_tensor(pixels).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


def make_preprocess(image_size: int = 64):
    """PIL image -> normalised (3, image_size, image_size) tensor, the models' input."""

    def preprocess(image: Any) -> torch.Tensor:
        image = image.convert("RGB")
        if image.size != (image_size, image_size):
            from PIL import Image

            image = image.resize((image_size, image_size), Image.BILINEAR)
        return to_input(np.array(image)[None])[0]

    return preprocess


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``model`` (put in eval mode) on tensors x, y."""
    model.eval()
    correct = 0
    for start in range(0, len(x), batch_size):
        correct += int((model(x[start:start + batch_size]).argmax(1) == y[start:start + batch_size]).sum())
    return correct / max(len(x), 1)


def train_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: TrainConfig,
                     progress: bool = True, desc: str = "training", max_steps: int | None = None) -> dict[str, Any]:
    """Seeded Adam + one-cycle training with horizontal/vertical flips; returns a summary."""
    from tqdm.auto import tqdm

    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    steps_per_epoch = (len(x) + config.batch_size - 1) // config.batch_size
    total = config.epochs * steps_per_epoch if max_steps is None else min(max_steps, config.epochs * steps_per_epoch)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.lr, total_steps=max(total, 1))
    model.train()
    step, losses = 0, []
    started, cpu_started = time.perf_counter(), time.process_time()
    with tqdm(total=total, desc=desc, disable=not progress, leave=False) as bar:
        while step < total:
            order = torch.randperm(len(x), generator=generator)
            for start in range(0, len(x), config.batch_size):
                if step >= total:
                    break
                idx = order[start:start + config.batch_size]
                batch = x[idx]
                flips = torch.rand(2, generator=generator)
                if flips[0] < 0.5:
                    batch = batch.flip(-1)
                if flips[1] < 0.5:
                    batch = batch.flip(-2)
                loss = F.cross_entropy(model(batch), y[idx])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
                losses.append(float(loss.detach()))
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    return {"steps": step, "final_loss": float(np.mean(losses[-10:])) if losses else None,
            "seconds": round(time.perf_counter() - started, 2),
            "cpu_seconds": round(time.process_time() - cpu_started, 2)}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive file lock, so parallel test workers do not train the same model twice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            import fcntl

            fcntl.flock(handle, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - non-POSIX: no lock, atomic renames still hold
            pass
        yield


def _summary(root: Path, kind: str) -> dict[str, Any] | None:
    path = root / "models" / f"{kind}.json"
    if not (path.is_file() and (root / "models" / f"{kind}.pt").is_file()):
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _train_and_save(root: Path, kind: str, generator: GeneratorConfig, config: TrainConfig,
                    data: dict[str, tuple[torch.Tensor, torch.Tensor]], progress: bool) -> dict[str, Any]:
    model = build_embedded_network(kind, generator.image_size)
    x_train, y_train = data["train"]
    summary = train_classifier(model, x_train, y_train, config, progress, desc=f"training embedded:{kind}")
    details = {
        "kind": kind, "architecture": type(model).__name__,
        "accuracy": {split: accuracy(model, *data[split]) for split in SPLITS},
        "train": {**asdict(config), **summary}, "generator": asdict(generator),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
    }
    models = root / "models"
    models.mkdir(exist_ok=True)
    tmp = models / f".{kind}.pt.{os.getpid()}"
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, models / f"{kind}.pt")
    tmp_json = models / f".{kind}.json.{os.getpid()}"
    tmp_json.write_text(json.dumps(details, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp_json, models / f"{kind}.json")
    return details


def ensure_embedded_benchmark(cache_dir: str | os.PathLike[str] | None = None, progress: bool = True,
                              generator: GeneratorConfig | None = None,
                              training: TrainConfig | None = None) -> EmbeddedBenchmark:
    """The embedded benchmark, generating the data and training the models only if missing.

    ``cache_dir`` is the parent cache folder (default ``$XAI_EVAL_CACHE`` or
    ``~/.cache/xai-eval``); the benchmark lives in ``<cache_dir>/embedded-v1`` (other
    generator/training configs get a hashed suffix, so they never mix with the default).
    """
    generator = generator or GeneratorConfig()
    training = training or TrainConfig()
    root = ensure_embedded_data(cache_dir, generator, progress, extra_key=(training,))
    details: dict[str, dict[str, Any]] = {}
    with _locked(root.parent / f".{root.name}.lock"):
        missing = [kind for kind in KINDS if _summary(root, kind) is None]
        data = {}
        if missing:
            data = {split: tuple(map(torch.as_tensor, load_split_arrays(root, split))) for split in SPLITS}
            data = {split: (to_input(px), labels) for split, (px, labels) in data.items()}
        for kind in KINDS:
            found = _summary(root, kind)
            details[kind] = found if found is not None else _train_and_save(
                root, kind, generator, training, data, progress)
    return EmbeddedBenchmark(
        root=root,
        coco_json={s: root / "annotations" / f"instances_{s}.json" for s in SPLITS},
        image_dir={s: root / s for s in SPLITS},
        classes=list(CLASSES),
        model_paths={kind: root / "models" / f"{kind}.pt" for kind in KINDS},
        accuracies={kind: float(details[kind]["accuracy"]["test"]) for kind in KINDS},
        details=details,
    )


def load_embedded_model(kind: str, cache_dir: str | os.PathLike[str] | None = None,
                        progress: bool = True, device: str | torch.device = "cpu",
                        **configs: Any) -> LoadedModel:
    """The trained ``"gap"`` or ``"fc"`` classifier (training it first only if not cached)."""
    if kind not in KINDS:
        raise UnknownNameError(f"unknown embedded model kind {kind!r}; choose one of {KINDS}")
    bench = ensure_embedded_benchmark(cache_dir, progress, **configs)
    size = int(bench.details[kind]["generator"]["image_size"])
    model = build_embedded_network(kind, size)
    model.load_state_dict(torch.load(bench.model_paths[kind], map_location="cpu", weights_only=True))
    model.to(device).eval()
    return LoadedModel(
        name=f"embedded:{kind}", model=model, preprocess=make_preprocess(size),
        classes=list(bench.classes), input_size=(size, size), target_layer="features",
    )


class EmbeddedModelSource(ModelSource):
    """The embedded benchmark's trained classifiers: ``embedded:gap`` and ``embedded:fc``."""

    name: ClassVar[str] = "embedded"
    priority: ClassVar[int] = 50  # before the import-path fallback, which also matches a:b

    def accepts(self, spec: str) -> bool:
        return spec in {f"embedded:{kind}" for kind in KINDS}

    def load(self, spec: str, device: str | torch.device = "cpu") -> LoadedModel:
        return load_embedded_model(spec.split(":", 1)[1], device=device)
