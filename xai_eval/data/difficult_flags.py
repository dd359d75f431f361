"""TorchRay's "difficult" pointing-game subset flags (the EBP paper's subsets).

TorchRay ships one tab-separated file per benchmark —
``pointing_game_ebp_voc07_difficult.txt`` (VOC07 test) and
``pointing_game_ebp_coco_difficult.txt`` (COCO 2014 val) — with one row per image: the
image's file name without extension, then one ``0``/``1`` per class in the dataset's class
order (VOC's 20 classes; COCO's 80 categories in increasing id order, which is our class
index order). We do not ship the files; a user points a dataset at them with the
``difficult_flags`` option and ``accuracy_difficult`` is then filled.

TorchRay's rule, reproduced: a pair (image, class) is in the difficult subset when the
image's row flags the class, *and also when the image has no row at all* (TorchRay only
skips pairs whose row says 0). Images missing from the file are counted so the run can
report it.
"""

from __future__ import annotations

from pathlib import Path

from xai_eval.data.checks import DatasetFormatError, require_file


def load_difficult_flags(path: str | Path, n_classes: int) -> dict[str, frozenset[int]]:
    """``{image name: classes flagged difficult}`` from a TorchRay flag file.

    Raises DatasetFormatError naming the line when a row has the wrong number of columns
    or a value other than 0/1, so a VOC file given to a COCO dataset fails loudly.
    """
    file = require_file(Path(path).expanduser(), "difficult-flags file",
                        "  <name>\\t<0|1>\\t... one flag per class (TorchRay's format)")
    flags: dict[str, frozenset[int]] = {}
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        values = fields[1:]
        if len(values) != n_classes:
            raise DatasetFormatError(
                f"{file} line {number}: {len(values)} flags for {n_classes} classes; is this "
                "the flag file of another dataset?")
        if any(v not in ("0", "1") for v in values):
            raise DatasetFormatError(f"{file} line {number}: flags must be 0 or 1, got {line!r}")
        flags[fields[0]] = frozenset(i for i, v in enumerate(values) if v == "1")
    if not flags:
        raise DatasetFormatError(f"{file} has no rows")
    return flags


def difficult_classes(flags: dict[str, frozenset[int]], image_name: str,
                      present: tuple[int, ...]) -> frozenset[int]:
    """The classes of one image in the difficult subset (TorchRay: no row = all present)."""
    if image_name in flags:
        return flags[image_name]
    return frozenset(present)


def resolve_flags_path(root: Path, value: str | Path) -> Path:
    """An absolute path, a path relative to the dataset root if it exists there, else as given."""
    path = Path(value).expanduser()
    if not path.is_absolute() and (root / path).is_file():
        return root / path
    return path
