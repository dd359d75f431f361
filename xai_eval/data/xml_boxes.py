"""Parse the PASCAL-style annotation XML that both VOC and ILSVRC use.

One ``<annotation>`` per image: ``<filename>``, ``<size><width/><height/>``, and ``<object>``
elements with ``<name>``, optional ``<difficult>``/``<truncated>`` and
``<bndbox><xmin/><ymin/><xmax/><ymax/>``. Errors name the file and the element.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from xai_eval.data.checks import DatasetFormatError


@dataclass
class XmlObject:
    """One ``<object>`` as written in the file (coordinates not yet converted)."""

    name: str
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    difficult: bool = False
    truncated: bool = False


@dataclass
class XmlAnnotation:
    """One annotation file."""

    path: Path
    filename: str
    width: int
    height: int
    objects: list[XmlObject] = field(default_factory=list)


def _text(element: ET.Element, tag: str, path: Path, where: str) -> str:
    found = element.find(tag)
    if found is None or found.text is None or not found.text.strip():
        raise DatasetFormatError(f"{path}: {where} has no <{tag}> element")
    return found.text.strip()


def _number(element: ET.Element, tag: str, path: Path, where: str) -> float:
    raw = _text(element, tag, path, where)
    try:
        return float(raw)
    except ValueError:
        raise DatasetFormatError(f"{path}: {where} <{tag}> is {raw!r}, not a number") from None


def _flag(element: ET.Element, tag: str) -> bool:
    found = element.find(tag)
    return found is not None and (found.text or "0").strip() not in ("0", "", "false")


def parse_annotation_xml(path: Path) -> XmlAnnotation:
    """Read one VOC/ILSVRC annotation file, or raise DatasetFormatError naming it."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise DatasetFormatError(f"{path} is not well-formed XML: {exc}") from None
    if root.tag != "annotation":
        raise DatasetFormatError(
            f"{path}: root element is <{root.tag}>, expected <annotation> (PASCAL VOC format)"
        )
    size = root.find("size")
    if size is None:
        raise DatasetFormatError(f"{path}: <annotation> has no <size> element")
    result = XmlAnnotation(
        path=path,
        filename=_text(root, "filename", path, "<annotation>"),
        width=int(_number(size, "width", path, "<size>")),
        height=int(_number(size, "height", path, "<size>")),
    )
    for index, obj in enumerate(root.findall("object")):
        where = f"<object> #{index + 1}"
        box = obj.find("bndbox")
        if box is None:
            raise DatasetFormatError(f"{path}: {where} has no <bndbox> element")
        result.objects.append(
            XmlObject(
                name=_text(obj, "name", path, where),
                xmin=_number(box, "xmin", path, where),
                ymin=_number(box, "ymin", path, where),
                xmax=_number(box, "xmax", path, where),
                ymax=_number(box, "ymax", path, where),
                difficult=_flag(obj, "difficult"),
                truncated=_flag(obj, "truncated"),
            )
        )
    return result
