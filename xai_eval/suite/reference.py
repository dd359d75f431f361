"""The committed reference results of the v2 demo, and comparing a run's table with them.

Why: the v2 demo's data are drawn with integers and its weights are shipped, so its table
should be the same on every machine; ``xai-eval demo`` says whether it is, and by how much
it is not (the largest absolute deviation over every numeric cell, and where). The
reference files are a demo run's ``results.csv`` and ``results.md``
(``xai_eval/suite/reference/embedded-v2-demo.{csv,md}``); the README's table is the
Markdown one, and a test checks the three agree. Regenerate them with
``python -m xai_eval.suite.reference --from xai-eval-demo`` after an intended change.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

REFERENCE_DIR = Path(__file__).with_name("reference")
KEYS = ("dataset", "model", "method")


def reference_csv(name: str = "embedded-v2-demo") -> Path:
    return REFERENCE_DIR / f"{name}.csv"


@dataclass
class Comparison:
    """How a table compares with the reference."""

    identical: bool  # byte for byte
    largest: float  # largest absolute deviation over numeric cells (inf: a cell or row missing)
    where: str  # the row and column of the largest deviation, or what is missing

    def message(self) -> str:
        if self.identical:
            return "the table matches the committed reference exactly (largest deviation 0)"
        if math.isinf(self.largest):
            return f"the table does NOT match the committed reference: {self.where}"
        return (f"the table does NOT match the committed reference byte for byte; largest "
                f"deviation {self.largest:.3g} at {self.where}")


def _rows(text: str) -> dict[tuple[str, ...], dict[str, str]]:
    return {tuple(row[k] for k in KEYS): row for row in csv.DictReader(io.StringIO(text))}


def compare(text: str, reference: str) -> Comparison:
    """Compare a results.csv text with the reference's, cell by cell."""
    if text == reference:
        return Comparison(True, 0.0, "")
    got, want = _rows(text), _rows(reference)
    missing = sorted(set(want) ^ set(got))
    if missing:
        return Comparison(False, math.inf, f"rows differ: {', '.join('/'.join(k) for k in missing[:5])}")
    largest, where = 0.0, "formatting only"
    for key, row in want.items():
        for column, value in row.items():
            if column in KEYS:
                continue
            other = got[key].get(column)
            if other is None:
                return Comparison(False, math.inf, f"column {column!r} missing")
            if value == other:
                continue
            if value == "" or other == "":
                return Comparison(False, math.inf, f"{'/'.join(key)} {column}: {other!r} vs {value!r}")
            deviation = abs(float(value) - float(other))
            if deviation >= largest:
                largest, where = deviation, f"{'/'.join(key)}, column {column}"
    return Comparison(False, largest, where)


def compare_file(results_csv: Path, name: str = "embedded-v2-demo") -> Comparison | None:
    """Compare a written results.csv with the reference; None when no reference is shipped."""
    path = reference_csv(name)
    if not path.is_file():
        return None
    return compare(results_csv.read_text(encoding="utf-8"), path.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m xai_eval.suite.reference",
        description="Copy a demo run's results.csv/.md into the committed reference files.")
    parser.add_argument("--from", dest="source", type=Path, required=True,
                        help="the demo's output folder (holding results.csv and results.md)")
    parser.add_argument("--name", default="embedded-v2-demo", help="reference name")
    args = parser.parse_args(argv)
    REFERENCE_DIR.mkdir(exist_ok=True)
    for suffix in ("csv", "md"):
        shutil.copyfile(args.source / f"results.{suffix}", REFERENCE_DIR / f"{args.name}.{suffix}")
    print(f"reference written: {REFERENCE_DIR / args.name}.csv/.md")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
