"""The embedded benchmark v2: ILSVRC-like geometry, known evidence, a planted-bias variant.

Why a v2: v1 (64 px images, 8x8 target maps, objects ~3.4 map cells across covering a
median 18% of the image) measures upsampling blur more than localisation. v2 matches the
geometry of the Grad-CAM/CAM papers' ILSVRC protocol (see docs/datasets.md): 112 px
images explained at a 14x14 map (stride 8, as VGG-16's conv5 is 14x14 at 224 px), primary
boxes covering on average 36% of the image (ILSVRC's published average object scale is
0.358), about 8 map cells across. Classes are decided by a known **evidence part** (a
texture on one disc of the object); bodies, distractor parts and clutter are shared, so
each annotation carries an evidence mask beside its object mask (``extras["evidence"]``).

Splits: ``train``/``val``/``test`` (no cue) and the planted-bias splits
``bias_train_biased`` (a corner cue whose colour is the label's; half of the images have
no evidence part, see :data:`EVIDENCE_DROP`), ``bias_train_unbiased`` (the *same* images
with the cue colour drawn independently of the label) and ``bias_test`` (every image has
its evidence; cue independent of the label). Each split is generated on first use, on its
own, so the demo (test split only) does not pay for the training splits.

Machine independence: drawing is integer-only (:mod:`xai_eval.data.scene_v2`) from
``numpy.random.default_rng((seed, split id, index))``; PNG files are written by Pillow
with fixed settings. A test pins the files' hashes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from xai_eval.data.base import Annotation, DatasetItem
from xai_eval.data.coco import CocoDataset, mask_to_rle
from xai_eval.data.embedded import cache_root
from xai_eval.data.scene_v2 import CLASSES, Painted, SceneSpec, paint, sample_scene

VERSION = "embedded-v2"
SPLITS: tuple[str, ...] = ("train", "val", "test", "bias_train_biased", "bias_train_unbiased",
                           "bias_test")
#: share of bias-training images drawn without evidence parts (the same images in both
#: bias splits): with texture evidence on every image a model trained with a perfectly
#: correlated cue still learned the texture (bias-test accuracy 83 %, following the cue on
#: 40 %); where the evidence is often missing, the cue is the one reliable signal, as the
#: paper's biased training set made gender the easy signal
EVIDENCE_DROP = 0.5
#: the random stream of each split; the two bias training splits share one (same images)
_STREAM = {"train": 0, "val": 1, "test": 2, "bias_train_biased": 3, "bias_train_unbiased": 3,
           "bias_test": 4}


@dataclass(frozen=True)
class GeneratorConfigV2:
    """Everything that determines the generated files (part of the cache key)."""

    seed: int = 0
    image_size: int = 112
    train: int = 2000
    val: int = 300
    test: int = 500
    bias_train: int = 2000
    bias_test: int = 300
    two_object_fraction: float = 0.25

    def count(self, split: str) -> int:
        if split.startswith("bias_train"):
            return self.bias_train
        return {"train": self.train, "val": self.val, "test": self.test,
                "bias_test": self.bias_test}[split]


def config_key(config: GeneratorConfigV2) -> str:
    """``embedded-v2`` for the defaults, plus a short hash for any other config."""
    import hashlib

    if config == GeneratorConfigV2():
        return VERSION
    blob = json.dumps(asdict(config), sort_keys=True).encode()
    return f"{VERSION}-{hashlib.sha256(blob).hexdigest()[:10]}"


def scene(config: GeneratorConfigV2, split: str, index: int) -> tuple[int, SceneSpec]:
    """(label, spec) of image ``index`` of ``split``: a pure function of the config."""
    if split not in _STREAM:
        raise ValueError(f"embedded v2 split must be one of {SPLITS}, not {split!r}")
    rng = np.random.default_rng([config.seed, _STREAM[split], index])
    label = index % len(CLASSES)
    two = bool(rng.random() < config.two_object_fraction)
    cue, drop = None, False
    if split.startswith("bias"):
        # the cue's class comes from its own stream, so biased and unbiased images agree
        # in everything but the cue colour
        aux = np.random.default_rng([config.seed, 99, _STREAM[split], index])
        free = int(aux.integers(0, len(CLASSES)))
        cue = label if split == "bias_train_biased" else free
        drop = split.startswith("bias_train") and bool(aux.random() < EVIDENCE_DROP)
    spec = sample_scene(rng, config.image_size, label, two, cue_class=cue)
    if drop:  # this training image shows no evidence: only the cue (if biased) tells the class
        spec = replace(spec, objects=tuple(replace(o, parts=tuple(p for p in o.parts if not p.evidence))
                                           for o in spec.objects))
    return label, spec


def _box(mask: np.ndarray) -> list[int] | None:
    """COCO [x, y, w, h] of a mask's tight box, or None for an empty mask."""
    rows, cols = np.nonzero(mask)
    if not len(rows):
        return None
    x0, y0 = int(cols.min()), int(rows.min())
    return [x0, y0, int(cols.max()) + 1 - x0, int(rows.max()) + 1 - y0]


def _records(image_id: int, painted: Painted, spec: SceneSpec, start: int) -> list[dict[str, Any]]:
    annotations = []
    for obj, mask, evidence in zip(spec.objects, painted.object_masks, painted.evidence_masks, strict=True):
        annotations.append({
            "id": start + len(annotations), "image_id": image_id, "category_id": obj.cls + 1,
            "bbox": _box(mask), "area": int(mask.sum()), "iscrowd": 0,
            "segmentation": mask_to_rle(mask), "primary": obj.primary,
            "evidence_bbox": _box(evidence), "evidence_segmentation": mask_to_rle(evidence),
        })
    return annotations


def _write_split(root: Path, split: str, config: GeneratorConfigV2, progress: bool) -> None:
    from PIL import Image
    from tqdm.auto import tqdm

    (root / split).mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in tqdm(range(config.count(split)), desc=f"embedded v2: {split} images",
                  disable=not progress, leave=False):
        label, spec = scene(config, split, i)
        painted = paint(spec)
        file_name = f"{i:05d}.png"
        Image.fromarray(painted.pixels).save(root / split / file_name, format="PNG", optimize=False,
                                             compress_level=6)
        record: dict[str, Any] = {
            "id": i + 1, "file_name": file_name, "width": spec.size, "height": spec.size,
            "label": label + 1, "classes_present": sorted({o.cls + 1 for o in spec.objects}),
        }
        if painted.cue_mask is not None and spec.cue is not None:
            record["cue"] = {"category_id": spec.cue.cls + 1, "bbox": _box(painted.cue_mask)}
        images.append(record)
        annotations.extend(_records(i + 1, painted, spec, len(annotations) + 1))
    data = {
        "info": {"description": f"xai-eval {VERSION} synthetic benchmark, split {split}",
                 "version": VERSION, "generator": asdict(config)},
        "images": images, "annotations": annotations,
        "categories": [{"id": i + 1, "name": n, "supercategory": "texture"} for i, n in enumerate(CLASSES)],
    }
    (root / "annotations").mkdir(exist_ok=True)
    with open(root / "annotations" / f"instances_{split}.json", "w", encoding="utf-8") as handle:
        json.dump(data, handle, sort_keys=True)


def split_complete(root: Path, split: str) -> bool:
    """Whether ``split`` is fully written (its instances file is renamed in last)."""
    return (root / "annotations" / f"instances_{split}.json").is_file()


def ensure_v2_data(splits: tuple[str, ...] = ("test",), cache_dir: str | os.PathLike[str] | None = None,
                   config: GeneratorConfigV2 | None = None, progress: bool = True) -> Path:
    """The v2 root with ``splits`` generated (each into a temporary folder moved into place)."""
    config = config or GeneratorConfigV2()
    root = cache_root(cache_dir) / config_key(config)
    for split in splits:
        if split not in SPLITS:
            raise ValueError(f"embedded v2 split must be one of {SPLITS}, not {split!r}")
        if split_complete(root, split):
            continue
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{split}-", dir=root))
        try:
            _write_split(tmp, split, config, progress)
            if split_complete(root, split):  # another process finished first
                continue
            if (root / split).exists():
                shutil.rmtree(root / split)
            os.replace(tmp / split, root / split)
            (root / "annotations").mkdir(exist_ok=True)
            os.replace(tmp / "annotations" / f"instances_{split}.json",
                       root / "annotations" / f"instances_{split}.json")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    manifest = {"version": VERSION, "generator": asdict(config), "classes": list(CLASSES)}
    (root / "data.json").write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    return root


def split_arrays(config: GeneratorConfigV2, split: str, **omit: Any) -> tuple[np.ndarray, np.ndarray]:
    """A split's images drawn in memory (uint8 (N, H, W, 3)) and labels; ``omit``: see paint()."""
    count = config.count(split)
    pixels = np.empty((count, config.image_size, config.image_size, 3), dtype=np.uint8)
    labels = np.empty(count, dtype=np.int64)
    for i in range(count):
        labels[i], spec = scene(config, split, i)
        pixels[i] = paint(spec, **omit).pixels
    return pixels, labels


class EmbeddedV2Dataset(CocoDataset):
    """The v2 embedded benchmark (generated on first use), read as COCO.

    Options: ``split`` (default ``test``), ``cache_dir``, ``progress``. Every item's
    ``extras["evidence"]`` lists one :class:`Annotation` per object with the evidence
    part's box and mask (what ``region: evidence`` scores against), and bias splits add
    ``extras["cue"]`` (the cue's annotation, class = the cue colour's class).
    """

    name: ClassVar[str] = "embedded_v2"

    def __init__(self, root: str | os.PathLike[str] | None = None, **options: Any) -> None:
        split = str(options.pop("split", "test"))
        if split not in SPLITS:
            raise ValueError(f"embedded_v2 split must be one of {SPLITS}, not {split!r}")
        cache_dir, progress = options.pop("cache_dir", None), options.pop("progress", True)
        if root is None:
            root = ensure_v2_data((split,), cache_dir, progress=progress)
        super().__init__(root, split=split, **options)

    def __getitem__(self, index: int) -> DatasetItem:
        item = super().__getitem__(index)
        info = self.coco.imgs[self.image_ids[index]]
        evidence = []
        for ann in self.coco.loadAnns(self.coco.getAnnIds(imgIds=[info["id"]])):
            if ann.get("evidence_bbox") is None:
                continue
            x, y, w, h = ann["evidence_bbox"]
            mask = self.coco.annToMask({**ann, "segmentation": ann["evidence_segmentation"]}).astype(bool)
            evidence.append(Annotation(self.index_of_category[int(ann["category_id"])],
                                       (float(x), float(y), float(x + w), float(y + h)), False, mask))
        item.extras["evidence"] = evidence
        if "cue" in info:
            x, y, w, h = info["cue"]["bbox"]
            mask = np.zeros((item.height, item.width), dtype=bool)
            mask[y:y + h, x:x + w] = True
            item.extras["cue"] = Annotation(self.index_of_category[int(info["cue"]["category_id"])],
                                            (float(x), float(y), float(x + w), float(y + h)), False, mask)
        return item
