"""PASCAL VOC 2007/2012: Annotations XML with difficult flags, split lists, segmentation PNGs.

Layout (as the VOCdevkit tarballs extract)::

    <root>/Annotations/<id>.xml
    <root>/ImageSets/Main/<split>.txt           one image id per line
    <root>/JPEGImages/<id>.jpg
    <root>/SegmentationClass/<id>.png           optional: palette PNG, 0 background,
                                                1..20 the classes below, 255 void

``root`` may be ``VOCdevkit/VOC2007`` or ``VOCdevkit`` itself (then ``year`` picks the
sub-folder). Coordinates: VOC boxes are 1-based inclusive pixel indices; they become
0-based xyxy edges ``(xmin - 1, ymin - 1, xmax, ymax)`` so a box over the whole image is
``(0, 0, W, H)`` (``one_based=False`` takes them as written).

Masks: ``SegmentationClass`` holds one mask per *class*, not per object, so every object
of a class carries that class's mask; the void border (255) is in ``extras["void_mask"]``.
``segmentation="auto"`` (default) reads the PNG when it exists, ``True`` requires it,
``False`` skips it. Difficult objects are kept with ``difficult=True`` (TorchRay skips a
class whose boxes are all difficult); ``include_difficult=False`` drops them.
"""

from __future__ import annotations

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
from xai_eval.data.xml_boxes import parse_annotation_xml
from xai_eval.errors import MissingResourceError

VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)

LAYOUT = """  <root>/Annotations/<id>.xml
  <root>/ImageSets/Main/<split>.txt    (one image id per line)
  <root>/JPEGImages/<id>.jpg
  <root>/SegmentationClass/<id>.png    (optional; 255 = void)
  root is VOCdevkit/VOC2007 (or VOCdevkit with year=2007); options: split='val'"""


class VocDataset(Dataset):
    """PASCAL VOC 2007/2012 detection XML (difficult flags) with optional segmentation masks.

    Options: ``split`` (default ``"val"``), ``year`` (when root is ``VOCdevkit``),
    ``segmentation`` (``"auto"``/True/False), ``include_difficult`` (default True),
    ``one_based`` (default True), ``out_of_image`` (``"clip"`` or ``"error"``),
    ``difficult_flags`` (path to TorchRay's ``pointing_game_ebp_voc07_difficult.txt``: fills
    the pointing game's difficult subset, :mod:`xai_eval.data.difficult_flags`).
    """

    name: ClassVar[str] = "voc"

    def __init__(self, root: str | Path, **options: Any) -> None:
        super().__init__(root, **options)
        require_dir(self.root, "VOC root", LAYOUT)
        year = options.get("year")
        if not (self.root / "Annotations").is_dir():
            nested = [self.root / f"VOC{year}"] if year else sorted(self.root.glob("VOC20*"))
            if len(nested) == 1 and (nested[0] / "Annotations").is_dir():
                self.root = nested[0]
        self.split = str(options.get("split", "val"))
        self.segmentation = options.get("segmentation", "auto")
        self.include_difficult = bool(options.get("include_difficult", True))
        self.one_based = bool(options.get("one_based", True))
        self.out_of_image = check_policy(str(options.get("out_of_image", "clip")))
        self.warnings: list[str] = []
        self.classes = list(VOC_CLASSES)
        self.annotation_dir = require_dir(self.root / "Annotations", "VOC annotation directory", LAYOUT)
        self.image_dir = require_dir(self.root / "JPEGImages", "VOC image directory", LAYOUT)
        split_file = require_file(
            self.root / "ImageSets" / "Main" / f"{self.split}.txt", f"VOC split list '{self.split}'", LAYOUT
        )
        self.image_ids = self._read_split(split_file)
        self.difficult_flags = None
        if options.get("difficult_flags"):
            from xai_eval.data.difficult_flags import load_difficult_flags, resolve_flags_path

            self.difficult_flags = load_difficult_flags(
                resolve_flags_path(self.root, options["difficult_flags"]), len(VOC_CLASSES))
        self.segmentation_dir = self.root / "SegmentationClass"
        if self.segmentation is True:
            require_dir(self.segmentation_dir, "VOC segmentation directory", LAYOUT)

    @staticmethod
    def _read_split(path: Path) -> list[str]:
        ids = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) > 1 and fields[1] not in ("1", "0", "-1"):
                raise DatasetFormatError(
                    f"{path} line {number}: expected an image id per line, got {line!r}"
                )
            if len(fields) > 1 and fields[1] == "-1":
                continue  # per-class list: image without the class
            ids.append(fields[0])
        if not ids:
            raise DatasetFormatError(f"{path} lists no image ids")
        return ids

    def __len__(self) -> int:
        return len(self.image_ids)

    def __getitem__(self, index: int) -> DatasetItem:
        image_id = self.image_ids[index]
        xml_path = self.annotation_dir / f"{image_id}.xml"
        if not xml_path.is_file():
            raise MissingResourceError(
                f"VOC annotation {xml_path} does not exist, but {self.split}.txt lists {image_id!r}"
            )
        parsed = parse_annotation_xml(xml_path)
        item = DatasetItem(
            image_id=image_id,
            path=self.image_dir / parsed.filename,
            width=parsed.width,
            height=parsed.height,
            extras={"warnings": []},
        )
        class_masks = self._class_masks(image_id, parsed.width, parsed.height, item)
        offset = 1.0 if self.one_based else 0.0
        for number, obj in enumerate(parsed.objects, start=1):
            if obj.name not in VOC_CLASSES:
                raise DatasetFormatError(
                    f"{xml_path} <object> #{number}: unknown class {obj.name!r}; VOC classes are "
                    f"{', '.join(VOC_CLASSES)}"
                )
            if obj.difficult and not self.include_difficult:
                continue
            class_id = VOC_CLASSES.index(obj.name)
            found: list[str] = []
            box = fit_box(
                (obj.xmin - offset, obj.ymin - offset, obj.xmax, obj.ymax), parsed.width,
                parsed.height, policy=self.out_of_image, where=f"{xml_path} <object> #{number}",
                warnings=found,
            )
            item.extras["warnings"].extend(found)
            self.warnings.extend(found)
            mask = None if class_masks is None else class_masks == class_id + 1
            item.annotations.append(Annotation(class_id, box, obj.difficult, mask))
        if self.difficult_flags is not None:
            from xai_eval.data.difficult_flags import difficult_classes

            item.extras["difficult_classes"] = sorted(difficult_classes(
                self.difficult_flags, Path(parsed.filename).stem, item.classes_present()))
        return item

    def _class_masks(self, image_id: str, width: int, height: int, item: DatasetItem) -> np.ndarray | None:
        if self.segmentation is False:
            return None
        png = self.segmentation_dir / f"{image_id}.png"
        if not png.is_file():
            if self.segmentation is True:
                raise MissingResourceError(
                    f"VOC segmentation mask {png} does not exist (segmentation=True); use "
                    f"split lists from ImageSets/Segmentation or segmentation='auto'"
                )
            return None
        from PIL import Image

        with Image.open(png) as img:
            if img.mode not in ("P", "L"):
                raise DatasetFormatError(
                    f"{png}: VOC SegmentationClass PNGs are palette (P) images of class "
                    f"indices, this one has mode {img.mode}"
                )
            labels = np.asarray(img)
        if labels.shape != (height, width):
            raise DatasetFormatError(
                f"{png}: mask is {labels.shape[1]}x{labels.shape[0]}, the annotation says {width}x{height}"
            )
        bad = np.setdiff1d(np.unique(labels), np.r_[0:len(VOC_CLASSES) + 1, 255])
        if bad.size:
            raise DatasetFormatError(f"{png}: unexpected label values {bad.tolist()} (0-20 or 255)")
        item.extras["void_mask"] = labels == 255
        item.extras["segmentation_path"] = png
        return labels
