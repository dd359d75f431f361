"""The CAM paper's recipe for networks without a GAP head ("VGG-GAP", "AlexNet-GAP", ...).

Zhou et al. (CVPR 2016, §3) remove everything after a late conv layer (AlexNet: after conv5;
VGG16: after conv5_3; GoogLeNet: after inception4e), add a 3x3, stride 1, pad 1 conv with
1024 units, global average pooling and a linear classifier, and fine-tune. The result has
CAM-compatible maps at 13x13/14x14 for 224 input. ``pool="max"`` gives the paper's GMP
comparison network, which CAM correctly refuses (its head does not see the spatial mean).

The trunk is cut with :func:`torchvision.models.feature_extraction.create_feature_extractor`,
so whatever the network's ``forward`` does before ``cut_at`` is kept exactly (GoogLeNet's
``transform_input`` included) and everything after it is pruned. The trunk **shares its
parameters** with the model passed in (deep-copy it first to keep the original).

Explain a gapified network at ``target_layer="cam_conv"``::

    net = gapify(torchvision.models.vgg16(weights=None), "features.29", num_classes=20)
    history = finetune(net, loader, epochs=2, lr=1e-3)
    cam = xai_eval.get_explainer("cam", net, target_layer="cam_conv")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from xai_eval.data.base import CorruptImageError, Dataset, DatasetItem
from xai_eval.errors import LayerResolutionError

#: Where the CAM paper cuts each torchvision network (the module whose output is kept).
PAPER_CUTS: dict[str, str] = {
    "alexnet": "features.11",  # ReLU after conv5 -> 13x13 at 224 input
    "vgg16": "features.29",  # ReLU after conv5_3 -> 14x14
    "googlenet": "inception4e",  # -> 14x14
}
POOLS = ("avg", "max")


class GapNet(nn.Module):
    """trunk (cut CNN) -> 3x3 conv + ReLU (``cam_conv``) -> global avg/max pool -> linear ``fc``."""

    def __init__(self, trunk: nn.Module, in_channels: int, num_classes: int, channels: int,
                 pool: str, config: dict[str, Any]) -> None:
        super().__init__()
        self.trunk = trunk
        self.cam_conv = nn.Sequential(nn.Conv2d(in_channels, channels, 3, stride=1, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1) if pool == "avg" else nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        self.config = dict(config)
        nn.init.kaiming_normal_(self.cam_conv[0].weight, nonlinearity="relu")
        nn.init.zeros_(self.cam_conv[0].bias)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.trunk(x)["features"]
        return self.fc(torch.flatten(self.pool(self.cam_conv(features)), 1))

    def head_parameters(self) -> list[nn.Parameter]:
        return [*self.cam_conv.parameters(), *self.fc.parameters()]


def gapify(model: nn.Module, cut_at: str, num_classes: int, channels: int = 1024, pool: str = "avg",
           input_size: tuple[int, int] = (224, 224), in_channels: int | None = None) -> GapNet:
    """Cut ``model`` after module ``cut_at`` and add the CAM paper's conv -> GAP/GMP -> linear head.

    Args:
        model: any traceable CNN (torchvision classification models are).
        cut_at: dotted module name whose output feeds the new conv, e.g. ``"features.29"``
            (see :data:`PAPER_CUTS`); a wrong name lists the valid ones.
        num_classes: outputs of the new linear layer.
        channels: units of the added 3x3 conv (1024 in the paper).
        pool: ``"avg"`` (GAP; CAM applies) or ``"max"`` (GMP; CAM refuses, Grad-CAM works).
        input_size: (H, W) of a probe input used to find the trunk's channel count, unless
            ``in_channels`` is given.
    """
    from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, not {pool!r}")
    if channels < 1 or num_classes < 1:
        raise ValueError(f"channels and num_classes must be positive, got {channels}, {num_classes}")
    modules = dict(model.named_modules())
    if cut_at not in modules or not cut_at:
        _, eval_nodes = get_graph_node_names(model)
        valid = [n for n in eval_nodes if n in modules]
        raise LayerResolutionError(
            f"cannot cut {type(model).__name__} at {cut_at!r}: no such module. Valid cut points "
            f"(in forward order): {', '.join(valid[-40:])}"
        )
    was_training = model.training
    trunk = create_feature_extractor(model, return_nodes={cut_at: "features"})
    if in_channels is None:
        trunk.eval()
        with torch.no_grad():
            probe = trunk(torch.zeros(1, 3, *input_size))["features"]
        if probe.dim() != 4:
            raise LayerResolutionError(
                f"{cut_at!r} outputs shape {tuple(probe.shape)}; the recipe needs a conv layer's "
                "(B, C, h, w) maps — cut earlier"
            )
        in_channels = int(probe.shape[1])
    trunk.train(was_training)
    config = {"cut_at": cut_at, "num_classes": num_classes, "channels": channels, "pool": pool,
              "in_channels": in_channels, "architecture": type(model).__name__}
    return GapNet(trunk, in_channels, num_classes, channels, pool, config).train(was_training)


def largest_object_label(item: DatasetItem) -> int:
    """The class of the largest box: the image label used to fine-tune on detection data."""
    if not item.annotations:
        raise ValueError(f"image {item.image_id} has no annotations, so no label")
    areas = [(a.box[2] - a.box[0]) * (a.box[3] - a.box[1]) for a in item.annotations]
    return item.annotations[max(range(len(areas)), key=areas.__getitem__)].class_id


def _dataset_batches(dataset: Dataset, preprocess: Callable[[Any], torch.Tensor],
                     label_fn: Callable[[DatasetItem], int], batch_size: int,
                     generator: torch.Generator, skipped: list[str]) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    order = torch.randperm(len(dataset), generator=generator).tolist()
    xs: list[torch.Tensor] = []
    ys: list[int] = []
    for index in order:
        item = dataset[index]
        try:
            xs.append(preprocess(item.load_image()))
        except CorruptImageError as exc:
            skipped.append(str(exc))
            continue
        ys.append(label_fn(item))
        if len(xs) == batch_size:
            yield torch.stack(xs), torch.tensor(ys)
            xs, ys = [], []
    if xs:
        yield torch.stack(xs), torch.tensor(ys)


def finetune(model: nn.Module, data: Dataset | Iterable[tuple[torch.Tensor, torch.Tensor]],
             epochs: int = 1, lr: float = 1e-3, *, preprocess: Callable[[Any], torch.Tensor] | None = None,
             label_fn: Callable[[DatasetItem], int] | None = None, batch_size: int = 32,
             trunk_lr_scale: float = 0.1, momentum: float = 0.9, weight_decay: float = 5e-4,
             max_steps: int | None = None, seed: int = 0, device: str | torch.device = "cpu",
             progress: bool = True) -> dict[str, Any]:
    """Fine-tune a gapified network with SGD (the paper's Caffe setting); returns the history.

    ``data`` is an iterable of ``(images, labels)`` batches (e.g. a DataLoader) or an
    xai-eval :class:`~xai_eval.data.base.Dataset`; then ``preprocess`` (PIL -> tensor) is
    required, labels come from ``label_fn`` (default: the largest object's class) and
    images that fail to decode are skipped and listed in ``history["skipped"]``. The new
    head learns at ``lr``, the trunk at ``lr * trunk_lr_scale`` (0 freezes it).
    """
    from tqdm.auto import tqdm

    if isinstance(data, Dataset) and preprocess is None:
        raise ValueError("finetune on an xai-eval Dataset needs preprocess= (PIL image -> tensor)")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    head = model.head_parameters() if isinstance(model, GapNet) else []
    head_ids = {id(p) for p in head}
    trunk = [p for p in model.parameters() if id(p) not in head_ids and p.requires_grad]
    if not head:  # not a GapNet: one learning rate for everything
        groups = [{"params": trunk, "lr": lr}]
    else:
        groups = [{"params": head, "lr": lr}]
        if trunk_lr_scale > 0 and trunk:
            groups.append({"params": trunk, "lr": lr * trunk_lr_scale})
    optimiser = torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    model.to(device).train()
    history: dict[str, Any] = {"loss": [], "accuracy": [], "steps": 0, "skipped": []}
    step = 0
    for epoch in range(epochs):
        if isinstance(data, Dataset):
            batches = _dataset_batches(data, preprocess, label_fn or _default_label(data),  # type: ignore[arg-type]
                                       batch_size, generator, history["skipped"])
        else:
            batches = iter(data)
        total_loss, correct, seen = 0.0, 0, 0
        for images, labels in tqdm(batches, desc=f"fine-tuning epoch {epoch + 1}/{epochs}",
                                   disable=not progress, leave=False):
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            loss = F.cross_entropy(logits, labels)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total_loss += float(loss.detach()) * len(labels)
            correct += int((logits.argmax(1) == labels).sum())
            seen += len(labels)
            step += 1
            if max_steps is not None and step >= max_steps:
                break
        history["loss"].append(total_loss / max(seen, 1))
        history["accuracy"].append(correct / max(seen, 1))
        if max_steps is not None and step >= max_steps:
            break
    history["steps"] = step
    model.eval()
    return history


def _default_label(dataset: Dataset) -> Callable[[DatasetItem], int]:
    item_label = getattr(dataset, "item_label", None)

    def label(item: DatasetItem) -> int:
        found = item_label(item) if item_label is not None else None
        return int(found) if found is not None else largest_object_label(item)

    return label


def save_gapified(model: GapNet, path: str | os.PathLike[str]) -> None:
    """Write the head configuration and all weights, for :func:`load_gapified`."""
    torch.save({"gapify": model.config, "state_dict": model.state_dict()}, path)


def load_gapified(base_model: nn.Module, path: str | os.PathLike[str]) -> GapNet:
    """Rebuild a network saved by :func:`save_gapified` on a fresh ``base_model`` of the same kind."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    cfg = saved["gapify"]
    net = gapify(base_model, cfg["cut_at"], cfg["num_classes"], cfg["channels"], cfg["pool"],
                 in_channels=cfg["in_channels"])
    net.load_state_dict(saved["state_dict"])
    return net.eval()
