"""Checks every dataset adapter shares: where files must be, and boxes that leave the image.

Adapters never download anything, so a missing root or annotation file is the most common
mistake; :func:`require_dir` / :func:`require_file` turn it into a
:class:`~xai_eval.errors.MissingResourceError` that names the exact path *and* the layout the
adapter expects. A file that exists but cannot be parsed raises :class:`DatasetFormatError`
naming the file (and the line or object when known).

Boxes outside the image: real annotation files contain them (COCO has boxes a fraction of a
pixel past the border; hand-made CSVs have worse). The policy is a named option of every
adapter, ``out_of_image``:

- ``"clip"`` (default): the box is clipped to the image and a warning is *recorded* — in
  ``item.extras["warnings"]`` and in the adapter's ``warnings`` list — never silently;
- ``"error"``: the adapter raises :class:`DatasetFormatError` naming the file and the box.

A box that lies entirely outside the image, or has ``x2 <= x1`` / ``y2 <= y1``, is always an
error: clipping it would leave nothing, and a silently dropped object changes every metric.
"""

from __future__ import annotations

from pathlib import Path

from xai_eval.errors import MissingResourceError, XaiEvalError

OUT_OF_IMAGE_POLICIES = ("clip", "error")


class DatasetFormatError(XaiEvalError, ValueError):
    """An annotation file exists but is not in the format the adapter reads; names the file."""


def require_dir(path: Path, what: str, layout: str) -> Path:
    """``path`` if it is a directory, else a MissingResourceError naming it and the layout."""
    if not path.is_dir():
        state = "is a file, not a directory" if path.exists() else "does not exist"
        raise MissingResourceError(
            f"{what} {path} {state}. xai-eval never downloads datasets; expected layout:\n{layout}"
        )
    return path


def require_file(path: Path, what: str, layout: str) -> Path:
    """``path`` if it is a file, else a MissingResourceError naming it and the layout."""
    if not path.is_file():
        state = "is a directory, not a file" if path.exists() else "does not exist"
        raise MissingResourceError(
            f"{what} {path} {state}. xai-eval never downloads datasets; expected layout:\n{layout}"
        )
    return path


def check_policy(policy: str) -> str:
    if policy not in OUT_OF_IMAGE_POLICIES:
        raise ValueError(
            f"out_of_image must be one of {OUT_OF_IMAGE_POLICIES}, not {policy!r}"
        )
    return policy


def fit_box(
    box: tuple[float, float, float, float],
    width: int,
    height: int,
    *,
    policy: str,
    where: str,
    warnings: list[str],
) -> tuple[float, float, float, float]:
    """Return ``box`` (xyxy) inside ``[0, width] x [0, height]`` following ``policy``.

    ``where`` names the file and object for messages; clipping appends a message to
    ``warnings``. Unknown image sizes (``width`` or ``height`` <= 0) leave the box as is.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    if not (x2 > x1 and y2 > y1):
        raise DatasetFormatError(
            f"{where}: box {box} is empty or inverted (need x1 < x2 and y1 < y2, xyxy pixels)"
        )
    if width <= 0 or height <= 0:
        return x1, y1, x2, y2
    inside = x1 >= 0 and y1 >= 0 and x2 <= width and y2 <= height
    if inside:
        return x1, y1, x2, y2
    if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
        raise DatasetFormatError(
            f"{where}: box {box} lies entirely outside the {width}x{height} image"
        )
    if policy == "error":
        raise DatasetFormatError(
            f"{where}: box {box} extends outside the {width}x{height} image "
            "(pass out_of_image='clip' to clip such boxes with a recorded warning)"
        )
    clipped = (max(x1, 0.0), max(y1, 0.0), min(x2, float(width)), min(y2, float(height)))
    warnings.append(f"{where}: box {box} clipped to {clipped} (image is {width}x{height})")
    return clipped
