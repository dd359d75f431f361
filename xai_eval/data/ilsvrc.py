"""ILSVRC (ImageNet) validation boxes: one PASCAL-style XML per image + a synset -> index map.

Two layouts are recognised (options override each path, relative to ``root`` or absolute)::

    Kaggle "ImageNet Object Localization":       plain (ILSVRC2012_bbox_val_v3.tgz + images):
    <root>/LOC_synset_mapping.txt                 <root>/LOC_synset_mapping.txt
    <root>/ILSVRC/Annotations/CLS-LOC/val/*.xml   <root>/val/*.xml
    <root>/ILSVRC/Data/CLS-LOC/val/*.JPEG         <root>/images/*.JPEG

The synset map has one synset per line, optionally followed by its names
(``n01440764 tench, Tinca tinca``); its line order is the class index (the torchvision /
Caffe order when the standard file is used). XML ``<name>`` holds the synset.

Coordinates are taken as written (``one_based=False``), as the CAM paper's and
wsolevaluation's evaluation code read them; ``one_based=True`` subtracts one from the
minima as for VOC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from xai_eval.data.base import Annotation, Dataset, DatasetItem
from xai_eval.data.checks import (
    DatasetFormatError,
    check_policy,
    fit_box,
    require_dir,
    require_file,
)
from xai_eval.data.xml_boxes import parse_annotation_xml

LAYOUT = """  <root>/LOC_synset_mapping.txt     ('n01440764 tench, Tinca tinca' per line; line = index)
  and either <root>/ILSVRC/Annotations/CLS-LOC/val/*.xml + <root>/ILSVRC/Data/CLS-LOC/val/*.JPEG
  or         <root>/val/*.xml (ILSVRC2012_bbox_val) + <root>/images/*.JPEG
  options: synset_map=..., annotation_dir=..., image_dir=..."""

_LAYOUTS = (
    ("ILSVRC/Annotations/CLS-LOC/val", "ILSVRC/Data/CLS-LOC/val"),
    ("val", "images"),
)
_IMAGE_SUFFIXES = (".JPEG", ".jpeg", ".jpg", ".JPG", ".png")


def read_synset_map(path: Path) -> tuple[list[str], list[str]]:
    """(synsets in index order, human-readable names) from a LOC_synset_mapping-style file."""
    synsets: list[str] = []
    names: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        synset, _, name = line.strip().partition(" ")
        if not (synset.startswith("n") and synset[1:].isdigit()):
            raise DatasetFormatError(
                f"{path} line {number}: expected 'n<8 digits> name', got {line!r}"
            )
        if synset in synsets:
            raise DatasetFormatError(f"{path} line {number}: synset {synset} listed twice")
        synsets.append(synset)
        names.append(name.strip() or synset)
    if not synsets:
        raise DatasetFormatError(f"{path} lists no synsets")
    return synsets, names


class IlsvrcDataset(Dataset):
    """ILSVRC validation XML boxes with a synset -> class-index map (LOC_synset_mapping.txt).

    Options: ``synset_map``, ``annotation_dir``, ``image_dir``, ``one_based`` (default
    False), ``out_of_image`` (``"clip"`` or ``"error"``).
    """

    name: ClassVar[str] = "ilsvrc"

    def __init__(self, root: str | Path, **options: Any) -> None:
        super().__init__(root, **options)
        require_dir(self.root, "ILSVRC root", LAYOUT)
        self.one_based = bool(options.get("one_based", False))
        self.out_of_image = check_policy(str(options.get("out_of_image", "clip")))
        self.warnings: list[str] = []
        map_path = require_file(self._path(options.get("synset_map"), "LOC_synset_mapping.txt"),
                                "ILSVRC synset map", LAYOUT)
        self.synsets, self.classes = read_synset_map(map_path)
        self.index_of_synset = {s: i for i, s in enumerate(self.synsets)}
        ann_dir, img_dir = options.get("annotation_dir"), options.get("image_dir")
        if ann_dir is None or img_dir is None:
            for ann_default, img_default in _LAYOUTS:
                if (self.root / ann_default).is_dir():
                    ann_dir = ann_dir or ann_default
                    img_dir = img_dir or img_default
                    break
            else:
                ann_dir = ann_dir or _LAYOUTS[0][0]
                img_dir = img_dir or _LAYOUTS[0][1]
        self.annotation_dir = require_dir(self._path(ann_dir, ""), "ILSVRC annotation directory", LAYOUT)
        self.image_dir = require_dir(self._path(img_dir, ""), "ILSVRC image directory", LAYOUT)
        self.xml_files = sorted(self.annotation_dir.glob("*.xml"))
        if not self.xml_files:
            raise DatasetFormatError(f"{self.annotation_dir} contains no .xml annotation files")

    def _path(self, value: str | Path | None, default: str) -> Path:
        path = Path(value) if value is not None else Path(default)
        return path if path.is_absolute() else self.root / path

    def _image_path(self, filename: str) -> Path:
        direct = self.image_dir / filename
        if direct.suffix and direct.exists():
            return direct
        for suffix in _IMAGE_SUFFIXES:
            candidate = self.image_dir / f"{filename}{suffix}"
            if candidate.exists():
                return candidate
        return direct if direct.suffix else self.image_dir / f"{filename}.JPEG"

    def __len__(self) -> int:
        return len(self.xml_files)

    def __getitem__(self, index: int) -> DatasetItem:
        xml_path = self.xml_files[index]
        parsed = parse_annotation_xml(xml_path)
        item = DatasetItem(
            image_id=xml_path.stem,
            path=self._image_path(parsed.filename),
            width=parsed.width,
            height=parsed.height,
            extras={"warnings": []},
        )
        offset = 1.0 if self.one_based else 0.0
        for number, obj in enumerate(parsed.objects, start=1):
            where = f"{xml_path} <object> #{number}"
            class_id = self.index_of_synset.get(obj.name)
            if class_id is None:
                raise DatasetFormatError(
                    f"{where}: synset {obj.name!r} is not in the synset map "
                    f"({len(self.synsets)} synsets)"
                )
            found: list[str] = []
            box = fit_box((obj.xmin - offset, obj.ymin - offset, obj.xmax, obj.ymax),
                          parsed.width, parsed.height, policy=self.out_of_image, where=where,
                          warnings=found)
            item.extras["warnings"].extend(found)
            self.warnings.extend(found)
            item.annotations.append(Annotation(class_id, box, obj.difficult, None))
        return item
