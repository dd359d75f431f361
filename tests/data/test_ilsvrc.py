"""ILSVRC adapter: ILSVRC2012_bbox_val-style XML + LOC_synset_mapping.txt -> class indices."""

from __future__ import annotations

import pytest

from xai_eval.data.base import CorruptImageError
from xai_eval.data.checks import DatasetFormatError
from xai_eval.data.ilsvrc import IlsvrcDataset
from xai_eval.errors import MissingResourceError

SYNSETS = "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\nn01484850 great white shark\n"


def _xml(stem: str, w: int, h: int, objects: list[tuple[str, tuple[int, int, int, int]]]) -> str:
    body = "".join(
        f"<object><name>{s}</name><pose>Unspecified</pose><truncated>0</truncated>"
        f"<difficult>0</difficult><bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax>"
        f"<ymax>{d}</ymax></bndbox></object>"
        for s, (a, b, c, d) in objects
    )
    return (f"<annotation><folder>val</folder><filename>{stem}</filename><source><database>"
            f"ILSVRC_2012</database></source><size><width>{w}</width><height>{h}</height>"
            f"<depth>3</depth></size><segmented>0</segmented>{body}</annotation>")


@pytest.fixture
def plain_root(tmp_path, write_image, write_corrupt_jpeg):
    root = tmp_path / "imagenet"
    (root / "val").mkdir(parents=True)
    (root / "LOC_synset_mapping.txt").write_text(SYNSETS)
    write_image(root / "images" / "ILSVRC2012_val_00000001.JPEG", 50, 40, fmt="JPEG")
    write_corrupt_jpeg(root / "images" / "ILSVRC2012_val_00000002.JPEG")
    (root / "val" / "ILSVRC2012_val_00000001.xml").write_text(_xml(
        "ILSVRC2012_val_00000001", 50, 40,
        [("n01484850", (3, 4, 30, 39)), ("n01484850", (20, 0, 49, 20))]))
    (root / "val" / "ILSVRC2012_val_00000002.xml").write_text(_xml(
        "ILSVRC2012_val_00000002", 32, 32, [("n01443537", (10, 10, 40, 20))]))
    return root


def test_synset_map_and_boxes_exact(plain_root):
    ds = IlsvrcDataset(plain_root)
    assert ds.synsets == ["n01440764", "n01443537", "n01484850"]
    assert ds.classes == ["tench, Tinca tinca", "goldfish, Carassius auratus", "great white shark"]
    assert len(ds) == 2
    item = ds[0]
    assert item.image_id == "ILSVRC2012_val_00000001"
    assert item.path == plain_root / "images" / "ILSVRC2012_val_00000001.JPEG"
    assert (item.width, item.height) == (50, 40)
    assert [(a.class_id, a.box) for a in item.annotations] == [
        (2, (3.0, 4.0, 30.0, 39.0)), (2, (20.0, 0.0, 49.0, 20.0))]
    assert item.load_image().size == (50, 40)
    assert IlsvrcDataset(plain_root, one_based=True)[0].annotations[0].box == (2.0, 3.0, 30.0, 39.0)


def test_clipping_and_corrupt_image(plain_root):
    ds = IlsvrcDataset(plain_root)
    item = ds[1]
    assert item.annotations[0] .box == (10.0, 10.0, 32.0, 20.0)
    assert "clipped" in item.extras["warnings"][0] and ds.warnings
    with pytest.raises(CorruptImageError, match="ILSVRC2012_val_00000002.JPEG"):
        item.load_image()
    with pytest.raises(DatasetFormatError, match="outside the 32x32 image"):
        IlsvrcDataset(plain_root, out_of_image="error")[1]


def test_kaggle_layout_is_found(tmp_path, write_image):
    root = tmp_path / "kaggle"
    ann = root / "ILSVRC" / "Annotations" / "CLS-LOC" / "val"
    ann.mkdir(parents=True)
    (root / "LOC_synset_mapping.txt").write_text(SYNSETS)
    write_image(root / "ILSVRC" / "Data" / "CLS-LOC" / "val" / "ILSVRC2012_val_00000009.JPEG", 20, 20, fmt="JPEG")
    (ann / "ILSVRC2012_val_00000009.xml").write_text(_xml("ILSVRC2012_val_00000009", 20, 20,
                                                          [("n01440764", (1, 2, 3, 4))]))
    item = IlsvrcDataset(root)[0]
    assert item.path.exists() and item.annotations[0].class_id == 0


def test_missing_and_malformed_inputs_are_named(tmp_path, plain_root):
    with pytest.raises(MissingResourceError, match=r"(?s)ILSVRC root .*absent.*LOC_synset_mapping"):
        IlsvrcDataset(tmp_path / "absent")
    with pytest.raises(MissingResourceError, match=r"ILSVRC synset map .*other\.txt does not exist"):
        IlsvrcDataset(plain_root, synset_map="other.txt")
    (plain_root / "bad_map.txt").write_text("tench\n")
    with pytest.raises(DatasetFormatError, match=r"bad_map\.txt line 1: expected 'n<8 digits> name'"):
        IlsvrcDataset(plain_root, synset_map="bad_map.txt")
    (plain_root / "val" / "ILSVRC2012_val_00000002.xml").write_text(_xml(
        "ILSVRC2012_val_00000002", 32, 32, [("n09999999", (1, 1, 5, 5))]))
    with pytest.raises(DatasetFormatError, match="synset 'n09999999' is not in the synset map"):
        IlsvrcDataset(plain_root)[1]
    (plain_root / "val" / "ILSVRC2012_val_00000002.xml").write_text(
        "<annotation><filename>x</filename><size><width>a</width><height>3</height></size></annotation>")
    with pytest.raises(DatasetFormatError, match=r"<size> <width> is 'a', not a number"):
        IlsvrcDataset(plain_root)[1]
