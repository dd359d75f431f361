"""COCO instances JSON (via pycocotools): boxes, polygon and RLE masks, crowd regions.

Layout (COCO 2014/2017 as distributed)::

    <root>/annotations/instances_<split>.json
    <root>/<split>/<file_name>            e.g. val2017/000000000139.jpg

``annotation_file`` and ``image_dir`` override either path (relative to ``root`` or
absolute). Boxes are converted from COCO's ``[x, y, w, h]`` to xyxy; masks come from
``COCO.annToMask`` (polygons, compressed and uncompressed RLE alike). Category ids (1..90
with gaps in COCO) map to contiguous class indices in increasing id order; ``classes``
holds the names in that order and ``category_ids`` the original ids.

``iscrowd`` annotations are regions of many objects, not objects: they are kept out of
``annotations`` and stored in ``item.extras["crowd"]`` (``include_crowd=True`` keeps them
as ordinary objects instead).

``difficult_flags`` points to TorchRay's ``pointing_game_ebp_coco_difficult.txt`` (rows
keyed by the file name without extension): it fills the pointing game's difficult subset
(:mod:`xai_eval.data.difficult_flags`).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from xai_eval.data.base import Annotation, Dataset, DatasetItem
from xai_eval.data.checks import (
    DatasetFormatError,
    check_policy,
    fit_box,
    require_dir,
    require_file,
)

LAYOUT = """  <root>/annotations/instances_<split>.json   (COCO instances format)
  <root>/<split>/<file_name>                   (the images the JSON lists)
  options: split='val2017', annotation_file=..., image_dir=..."""


def _resolve(root: Path, value: str | Path | None, default: Path) -> Path:
    if value is None:
        return default
    path = Path(value)
    return path if path.is_absolute() else root / path


class CocoDataset(Dataset):
    """COCO instances JSON: xyxy boxes, polygon/RLE masks, crowd regions set aside.

    Options: ``split`` (default ``"val2017"``), ``annotation_file``, ``image_dir``,
    ``masks`` (decode masks, default True), ``include_crowd`` (default False),
    ``out_of_image`` (``"clip"`` with a recorded warning, or ``"error"``).
    """

    name: ClassVar[str] = "coco"

    def __init__(self, root: str | Path, **options: Any) -> None:
        super().__init__(root, **options)
        split = str(options.get("split", "val2017"))
        self.masks = bool(options.get("masks", True))
        self.include_crowd = bool(options.get("include_crowd", False))
        self.out_of_image = check_policy(str(options.get("out_of_image", "clip")))
        self.warnings: list[str] = []
        require_dir(self.root, "COCO root", LAYOUT)
        self.annotation_file = require_file(
            _resolve(self.root, options.get("annotation_file"),
                     self.root / "annotations" / f"instances_{split}.json"),
            "COCO annotation file", LAYOUT,
        )
        self.image_dir = require_dir(
            _resolve(self.root, options.get("image_dir"), self.root / split),
            "COCO image directory", LAYOUT,
        )
        self.coco = self._load_api()
        cats = sorted(self.coco.loadCats(self.coco.getCatIds()), key=lambda c: c["id"])
        self.category_ids: list[int] = [int(c["id"]) for c in cats]
        self.classes = [str(c["name"]) for c in cats]
        self.index_of_category = {cid: i for i, cid in enumerate(self.category_ids)}
        self.image_ids: list[int] = sorted(self.coco.getImgIds())
        self.difficult_flags = None
        if options.get("difficult_flags"):
            from xai_eval.data.difficult_flags import load_difficult_flags, resolve_flags_path

            self.difficult_flags = load_difficult_flags(
                resolve_flags_path(self.root, options["difficult_flags"]), len(self.classes))

    def _load_api(self):  # -> pycocotools.coco.COCO
        from pycocotools.coco import COCO

        path = self.annotation_file
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DatasetFormatError(f"{path} is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or not all(k in data for k in ("images", "annotations", "categories")):
            keys = sorted(data) if isinstance(data, dict) else type(data).__name__
            raise DatasetFormatError(
                f"{path} is not a COCO instances file: it needs top-level 'images', "
                f"'annotations' and 'categories' (found {keys})"
            )
        coco = COCO()
        coco.dataset = data
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
                coco.createIndex()
        except (KeyError, TypeError) as exc:
            raise DatasetFormatError(f"{path}: malformed COCO entry, missing field {exc}") from None
        return coco

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, index: int) -> DatasetItem:
        image_id = self.image_ids[index]
        info = self.coco.imgs[image_id]
        width, height = int(info["width"]), int(info["height"])
        item = DatasetItem(
            image_id=str(image_id),
            path=self.image_dir / info["file_name"],
            width=width,
            height=height,
            extras={"coco_id": image_id, "crowd": [], "warnings": []},
        )
        for key in ("label", "classes_present"):  # written by the embedded generator
            if key in info:
                item.extras[key] = info[key]
        for ann in self.coco.loadAnns(self.coco.getAnnIds(imgIds=[image_id])):
            annotation = self._annotation(ann, info, item.extras["warnings"])
            if ann.get("iscrowd", 0) and not self.include_crowd:
                item.extras["crowd"].append(annotation)
            else:
                item.annotations.append(annotation)
        if self.difficult_flags is not None:
            from xai_eval.data.difficult_flags import difficult_classes

            item.extras["difficult_classes"] = sorted(difficult_classes(
                self.difficult_flags, Path(info["file_name"]).stem, item.classes_present()))
        return item

    def _annotation(self, ann: dict[str, Any], info: dict[str, Any], warnings: list[str]) -> Annotation:
        where = f"{self.annotation_file} annotation id {ann.get('id')} (image {info['file_name']})"
        try:
            x, y, w, h = (float(v) for v in ann["bbox"])
            class_id = self.index_of_category[int(ann["category_id"])]
        except KeyError as exc:
            raise DatasetFormatError(f"{where}: unknown category or missing field {exc}") from None
        except (TypeError, ValueError):
            raise DatasetFormatError(f"{where}: bbox must be [x, y, w, h], got {ann.get('bbox')!r}") from None
        found: list[str] = []
        box = fit_box((x, y, x + w, y + h), int(info["width"]), int(info["height"]),
                      policy=self.out_of_image, where=where, warnings=found)
        warnings.extend(found)
        self.warnings.extend(found)
        mask = None
        if self.masks and ann.get("segmentation"):
            mask = self.coco.annToMask(ann).astype(bool)
        return Annotation(class_id=class_id, box=box, difficult=False, mask=mask)

    def item_label(self, item: DatasetItem) -> int | None:
        """The image-level class index the generator recorded, if any (embedded benchmark)."""
        label = item.extras.get("label")
        return None if label is None else self.index_of_category[int(label)]


def mask_to_rle(mask: np.ndarray) -> dict[str, Any]:
    """Compressed COCO RLE of a boolean (H, W) mask, JSON-ready (counts as str)."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle
