"""A plain folder of images plus one CSV of boxes: ``image,class,x1,y1,x2,y2``.

Layout::

    <root>/annotations.csv        header: image,class,x1,y1,x2,y2 (extra columns ignored)
    <root>/<image>                paths in the 'image' column, relative to root
    <root>/classes.txt            optional: one class name per line, line = class index

One row per object; several rows with the same image give several objects, in file
order. Boxes are xyxy pixels. ``class`` is a class name; the class list is the
``classes`` option, else ``classes.txt``, else the sorted distinct names in the CSV.
The image size is read from the file header when the item is loaded (an unreadable
image gets width = height = 0, its boxes are not checked, and decoding it later raises
:class:`~xai_eval.data.base.CorruptImageError`).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
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

COLUMNS = ("image", "class", "x1", "y1", "x2", "y2")
LAYOUT = """  <root>/annotations.csv   (header: image,class,x1,y1,x2,y2; one row per object)
  <root>/<image>            (paths relative to root)
  <root>/classes.txt        (optional class order, one name per line)
  options: csv='annotations.csv', classes=[...]"""


class FolderCsvDataset(Dataset):
    """A folder of images and a CSV with one box per row (image,class,x1,y1,x2,y2).

    Options: ``csv`` (default ``annotations.csv``), ``classes`` (list of names),
    ``out_of_image`` (``"clip"`` with a recorded warning, or ``"error"``).
    """

    name: ClassVar[str] = "folder_csv"

    def __init__(self, root: str | Path, **options: Any) -> None:
        super().__init__(root, **options)
        require_dir(self.root, "image folder", LAYOUT)
        csv_path = Path(options.get("csv", "annotations.csv"))
        self.csv_path = require_file(csv_path if csv_path.is_absolute() else self.root / csv_path,
                                     "box CSV", LAYOUT)
        self.out_of_image = check_policy(str(options.get("out_of_image", "clip")))
        self.warnings: list[str] = []
        rows = self._read_rows()
        self.classes = self._class_list(options.get("classes"), rows)
        index = {name: i for i, name in enumerate(self.classes)}
        self._objects: dict[str, list[tuple[int, int, tuple[float, float, float, float]]]] = {}
        for line, row in rows:
            name = row["class"]
            if name not in index:
                raise DatasetFormatError(
                    f"{self.csv_path} line {line}: class {name!r} is not in the class list "
                    f"({', '.join(self.classes)})"
                )
            try:
                box = tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2"))
            except ValueError:
                raise DatasetFormatError(
                    f"{self.csv_path} line {line}: x1,y1,x2,y2 must be numbers, got "
                    f"{[row[k] for k in ('x1', 'y1', 'x2', 'y2')]}"
                ) from None
            self._objects.setdefault(row["image"], []).append((line, index[name], box))  # type: ignore[arg-type]
        self.images = list(self._objects)

    def _read_rows(self) -> list[tuple[int, dict[str, str]]]:
        try:
            with open(self.csv_path, newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                header = [h.strip() for h in (reader.fieldnames or [])]
                missing = [c for c in COLUMNS if c not in header]
                if missing:
                    raise DatasetFormatError(
                        f"{self.csv_path}: header {header} lacks column(s) {missing}; "
                        f"expected {','.join(COLUMNS)}"
                    )
                rows = []
                for row in reader:
                    clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k}
                    if any(not clean.get(c) for c in COLUMNS):
                        raise DatasetFormatError(
                            f"{self.csv_path} line {reader.line_num}: empty field in {clean}"
                        )
                    rows.append((reader.line_num, clean))
        except UnicodeDecodeError as exc:
            raise DatasetFormatError(f"{self.csv_path} is not a UTF-8 text CSV: {exc}") from None
        if not rows:
            raise DatasetFormatError(f"{self.csv_path} has a header but no rows")
        return rows

    def _class_list(self, given: Sequence[str] | None, rows: list[tuple[int, dict[str, str]]]) -> list[str]:
        if given is not None:
            return [str(c) for c in given]
        listed = self.root / "classes.txt"
        if listed.is_file():
            return [c.strip() for c in listed.read_text(encoding="utf-8").splitlines() if c.strip()]
        return sorted({row["class"] for _, row in rows})

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> DatasetItem:
        from PIL import Image

        image = self.images[index]
        path = self.root / image
        item = DatasetItem(image_id=image, path=path, width=0, height=0, extras={"warnings": []})
        try:
            with Image.open(path) as img:
                item.width, item.height = img.size
        except (OSError, ValueError) as exc:
            item.extras["warnings"].append(f"{path}: size unknown, boxes unchecked ({exc})")
        for line, class_id, box in self._objects[image]:
            found: list[str] = []
            fitted = fit_box(box, item.width, item.height, policy=self.out_of_image,
                             where=f"{self.csv_path} line {line}", warnings=found)
            item.extras["warnings"].extend(found)
            self.warnings.extend(found)
            item.annotations.append(Annotation(class_id, fitted))
        return item
