"""The embedded benchmark v2's classifiers, shipped as hash-checked weights in the package.

Four models, all explained at ``target_layer="features"`` (14x14 maps at 112 px):

- ``gap``: conv stack -> global average pooling -> linear (CAM applies exactly);
- ``fc``: conv stack -> flatten -> two fully connected layers (CAM refuses it);
- ``biased`` / ``unbiased``: ``gap`` networks trained on the planted-bias splits (a corner
  cue whose colour goes with the label, or the same images with the colour drawn at
  random) — the Grad-CAM paper's bias experiment, offline.

Why shipped weights: training on another machine's CPU kernels gives other weights (the
v1 demo's numbers differed between machines although training was seeded). The weights
live in ``xai_eval/models/shipped/embedded-v2-<kind>.pt`` with their sha256 in
``manifest.json``; loading refuses a file whose hash differs. ``python -m
xai_eval.models.ship_embedded`` retrains and rewrites them (and the manifest).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, ClassVar

import torch
import torch.nn as nn

from xai_eval.data.scene_v2 import CLASSES
from xai_eval.errors import MissingResourceError, UnknownNameError
from xai_eval.models.base import LoadedModel, ModelSource
from xai_eval.models.embedded import conv_block, make_preprocess

KINDS_V2 = ("gap", "fc", "biased", "unbiased")
SHIPPED = Path(__file__).with_name("shipped")
IMAGE_SIZE = 112
#: the training split of each kind (see xai_eval.data.embedded_v2)
TRAIN_SPLIT = {"gap": "train", "fc": "train", "biased": "bias_train_biased",
               "unbiased": "bias_train_unbiased"}


class GapNetV2(nn.Module):
    """Conv stack (stride 8, receptive field 47 px) -> GAP -> linear: CAM-compatible."""

    def __init__(self, num_classes: int = len(CLASSES), width: int = 16) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            *conv_block(3, w, True), *conv_block(w, 2 * w, True), *conv_block(2 * w, 4 * w, True),
            *conv_block(4 * w, 4 * w, False), *conv_block(4 * w, 4 * w, False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class FcNetV2(nn.Module):
    """Conv stack (stride 8) -> flatten -> two FC layers: the VGG/AlexNet role (no GAP head)."""

    def __init__(self, num_classes: int = len(CLASSES), width: int = 16, image_size: int = IMAGE_SIZE) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            *conv_block(3, w, True), *conv_block(w, 2 * w, True), *conv_block(2 * w, 4 * w, True),
            *conv_block(4 * w, w, False))
        side = image_size // 8
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(w * side * side, 64), nn.ReLU(), nn.Dropout(0.3),
            nn.Linear(64, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build_v2_network(kind: str) -> nn.Module:
    """An untrained v2 network of ``kind`` (biased/unbiased are GAP networks)."""
    if kind in ("gap", "biased", "unbiased"):
        return GapNetV2()
    if kind == "fc":
        return FcNetV2()
    raise UnknownNameError(f"unknown embedded v2 model kind {kind!r}; choose one of {KINDS_V2}")


#: a folder of retrained weights (``xai-eval demo --retrain`` sets it) instead of the shipped ones
WEIGHTS_ENV = "XAI_EVAL_V2_WEIGHTS"


def weights_folder() -> Path:
    """Where the v2 weights are read from: ``$XAI_EVAL_V2_WEIGHTS``, else the shipped folder."""
    env = os.environ.get(WEIGHTS_ENV)
    return Path(env) if env else SHIPPED


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(folder: Path | None = None) -> dict[str, Any]:
    """The shipped manifest: per kind its file, sha256, accuracies and training config."""
    path = (folder or weights_folder()) / "manifest.json"
    if not path.is_file():
        raise MissingResourceError(
            f"{path} is missing: the embedded v2 weights are not shipped in this install; "
            "run `python -m xai_eval.models.ship_embedded` to train and write them")
    return json.loads(path.read_text(encoding="utf-8"))


def weights_path(kind: str, folder: Path | None = None) -> Path:
    """The shipped weights of ``kind``, after checking their sha256 against the manifest."""
    folder = folder or weights_folder()
    if kind not in KINDS_V2:
        raise UnknownNameError(f"unknown embedded v2 model kind {kind!r}; choose one of {KINDS_V2}")
    entry = manifest(folder).get("models", {}).get(kind)
    if entry is None:
        raise MissingResourceError(f"{folder / 'manifest.json'} lists no {kind!r} model; rerun "
                                   "`python -m xai_eval.models.ship_embedded`")
    path = folder / entry["file"]
    if not path.is_file():
        raise MissingResourceError(f"shipped weights {path} are missing")
    found = sha256(path)
    if found != entry["sha256"]:
        raise MissingResourceError(
            f"shipped weights {path} have sha256 {found[:16]}..., the manifest says "
            f"{entry['sha256'][:16]}...: the file is damaged or was replaced; reinstall, or "
            "retrain with `python -m xai_eval.models.ship_embedded`")
    return path


def load_v2_model(kind: str, device: str | torch.device = "cpu", folder: Path | None = None) -> LoadedModel:
    """A shipped v2 classifier (no training, no data generation)."""
    path = weights_path(kind, folder)
    model = build_v2_network(kind)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.to(device).eval()
    return LoadedModel(name=f"embedded_v2:{kind}", model=model, preprocess=make_preprocess(IMAGE_SIZE),
                       classes=list(CLASSES), input_size=(IMAGE_SIZE, IMAGE_SIZE),
                       target_layer="features")


class EmbeddedV2ModelSource(ModelSource):
    """``embedded_v2:gap|fc|biased|unbiased``: the shipped v2 classifiers.

    ``embedded_v2:biased`` is the model that learned the planted corner cue (for bias
    detection studies); ``embedded_v2:unbiased`` its twin trained without the correlation.
    """

    name: ClassVar[str] = "embedded_v2"
    priority: ClassVar[int] = 50  # before the import-path fallback, which also matches a:b

    def accepts(self, spec: str) -> bool:
        return spec in {f"embedded_v2:{kind}" for kind in KINDS_V2}

    def load(self, spec: str, device: str | torch.device = "cpu") -> LoadedModel:
        return load_v2_model(spec.split(":", 1)[1], device=device)
