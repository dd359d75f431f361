"""PASCAL VOC adapter: XML with difficult flags, split lists and palette segmentation PNGs."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from xai_eval.data.base import CorruptImageError
from xai_eval.data.checks import DatasetFormatError
from xai_eval.data.voc import VOC_CLASSES, VocDataset
from xai_eval.errors import MissingResourceError

W, H = 48, 32


def _xml(filename: str, objects: list[tuple[str, int, tuple[int, int, int, int]]]) -> str:
    parts = [f"<annotation><folder>VOC2007</folder><filename>{filename}</filename>"
             f"<size><width>{W}</width><height>{H}</height><depth>3</depth></size>"]
    for name, difficult, (x1, y1, x2, y2) in objects:
        parts.append(
            f"<object><name>{name}</name><pose>Left</pose><truncated>0</truncated>"
            f"<difficult>{difficult}</difficult><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
            f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>"
        )
    return "".join(parts) + "</annotation>"


def _labels() -> np.ndarray:
    labels = np.zeros((H, W), np.uint8)
    labels[2:10, 0:12] = VOC_CLASSES.index("dog") + 1
    labels[12:30, 20:40] = VOC_CLASSES.index("person") + 1
    labels[11, :] = 255  # void border
    return labels


@pytest.fixture
def voc_root(tmp_path, write_image, write_corrupt_jpeg):
    root = tmp_path / "VOCdevkit" / "VOC2007"
    (root / "Annotations").mkdir(parents=True)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "SegmentationClass").mkdir(parents=True)
    write_image(root / "JPEGImages" / "000001.jpg", W, H)
    write_corrupt_jpeg(root / "JPEGImages" / "000002.jpg")
    (root / "Annotations" / "000001.xml").write_text(_xml("000001.jpg", [
        ("dog", 1, (1, 3, 12, 10)), ("person", 0, (21, 13, 40, 30))]))
    (root / "Annotations" / "000002.xml").write_text(_xml("000002.jpg", [("cat", 0, (40, 5, 60, 20))]))
    (root / "ImageSets" / "Main" / "val.txt").write_text("000001\n000002\n")
    (root / "ImageSets" / "Main" / "train.txt").write_text("000002\n")
    png = Image.fromarray(_labels(), mode="P")
    png.putpalette([0, 0, 0, 128, 0, 0] * 128)
    png.save(root / "SegmentationClass" / "000001.png")
    return root


def test_objects_boxes_difficult_flags_exact(voc_root):
    ds = VocDataset(voc_root)
    assert ds.classes == list(VOC_CLASSES) and len(ds.classes) == 20
    assert len(ds) == 2
    item = ds[0]
    assert item.image_id == "000001" and (item.width, item.height) == (W, H)
    assert item.path == voc_root / "JPEGImages" / "000001.jpg"
    dog, person = item.annotations
    assert (dog.class_id, dog.box, dog.difficult) == (11, (0.0, 2.0, 12.0, 10.0), True)
    assert (person.class_id, person.box, person.difficult) == (14, (20.0, 12.0, 40.0, 30.0), False)
    assert item.classes_present() == (11, 14)
    as_written = VocDataset(voc_root, one_based=False)[0].annotations[0]
    assert as_written.box == (1.0, 3.0, 12.0, 10.0)


def test_segmentation_png_gives_class_masks_and_void(voc_root):
    item = VocDataset(voc_root)[0]
    labels = _labels()
    dog, person = item.annotations
    assert np.array_equal(dog.mask, labels == 12)
    assert np.array_equal(person.mask, labels == 15)
    assert np.array_equal(item.extras["void_mask"], labels == 255)
    assert VocDataset(voc_root, segmentation=False)[0].annotations[0].mask is None


def test_difficult_objects_can_be_dropped(voc_root):
    item = VocDataset(voc_root, include_difficult=False)[0]
    assert [a.class_id for a in item.annotations] == [14]


def test_box_outside_clipped_with_warning_or_error(voc_root):
    ds = VocDataset(voc_root)
    item = ds[1]
    assert item.annotations[0].box == (39.0, 4.0, 48.0, 20.0)
    assert item.annotations[0].mask is None  # no PNG for this image, segmentation='auto'
    assert "000002.xml <object> #1" in item.extras["warnings"][0]
    with pytest.raises(DatasetFormatError, match=r"000002\.xml <object> #1.*outside the 48x32 image"):
        VocDataset(voc_root, out_of_image="error")[1]


def test_corrupt_jpeg_raises_corrupt_image_error(voc_root):
    with pytest.raises(CorruptImageError, match="000002.jpg"):
        VocDataset(voc_root)[1].load_image()


def test_root_may_be_the_devkit_folder(voc_root):
    ds = VocDataset(voc_root.parent, year=2007, split="train")
    assert ds.root == voc_root and ds.image_ids == ["000002"]


def test_missing_paths_and_bad_files_are_named(tmp_path, voc_root):
    with pytest.raises(MissingResourceError, match=r"(?s)VOC root .*missing does not exist.*ImageSets/Main"):
        VocDataset(tmp_path / "missing")
    with pytest.raises(MissingResourceError, match=r"split list 'test'.*test\.txt does not exist"):
        VocDataset(voc_root, split="test")
    with pytest.raises(MissingResourceError, match="SegmentationClass/000002.png"):
        VocDataset(voc_root, segmentation=True)[1]
    (voc_root / "Annotations" / "000002.xml").write_text("<annotation><size>")
    with pytest.raises(DatasetFormatError, match=r"000002\.xml is not well-formed XML"):
        VocDataset(voc_root)[1]
    (voc_root / "Annotations" / "000002.xml").write_text(_xml("000002.jpg", [("unicorn", 0, (1, 1, 5, 5))]))
    with pytest.raises(DatasetFormatError, match=r"000002\.xml <object> #1: unknown class 'unicorn'"):
        VocDataset(voc_root)[1]
    (voc_root / "Annotations" / "000002.xml").write_text("<annotation><size><width>4</width>"
                                                         "<height>4</height></size></annotation>")
    with pytest.raises(DatasetFormatError, match=r"000002\.xml: <annotation> has no <filename>"):
        VocDataset(voc_root)[1]
    (voc_root / "Annotations" / "000001.xml").unlink()
    with pytest.raises(MissingResourceError, match="000001.xml does not exist, but val.txt lists"):
        VocDataset(voc_root)[0]


def test_torchray_difficult_flags_fill_the_difficult_subset(voc_root, tmp_path):
    from xai_eval.suite.samples import is_difficult

    flags = tmp_path / "pointing_game_ebp_voc07_difficult.txt"
    row = ["0"] * 20
    row[VOC_CLASSES.index("person")] = "1"
    flags.write_text("000001\t" + "\t".join(row) + "\n")
    ds = VocDataset(voc_root, difficult_flags=str(flags))
    item = ds[0]
    assert item.extras["difficult_classes"] == [VOC_CLASSES.index("person")]
    assert is_difficult(item, VOC_CLASSES.index("person"))
    assert not is_difficult(item, VOC_CLASSES.index("dog"))
    # TorchRay's rule: an image without a row keeps every present class in the subset
    other = VocDataset(voc_root, split="train", difficult_flags=str(flags))
    (root_item,) = [other[0]]
    assert root_item.extras["difficult_classes"] == list(root_item.classes_present())
    assert "difficult_classes" not in VocDataset(voc_root)[0].extras


def test_difficult_flags_of_the_wrong_dataset_fail_with_the_line(voc_root, tmp_path):
    flags = tmp_path / "coco.txt"
    flags.write_text("000001\t" + "\t".join(["0"] * 80) + "\n")
    with pytest.raises(DatasetFormatError, match="line 1: 80 flags for 20 classes"):
        VocDataset(voc_root, difficult_flags=str(flags))
    flags.write_text("000001\t" + "\t".join(["2"] * 20) + "\n")
    with pytest.raises(DatasetFormatError, match="0 or 1"):
        VocDataset(voc_root, difficult_flags=str(flags))
    with pytest.raises(MissingResourceError):
        VocDataset(voc_root, difficult_flags=str(tmp_path / "absent.txt"))


def test_void_band_reaches_the_metric_sample_frame(voc_root):
    import torch

    from xai_eval.suite.samples import PreparedImage, ignore_region

    item = VocDataset(voc_root)[0]
    prepared = PreparedImage(0, item, torch.zeros(3, H * 2, W * 2), 2.0, 2.0)
    ignore = ignore_region(prepared)
    assert ignore.shape == (H * 2, W * 2)
    # row 11 is void in the 32-row PNG: rows 22-23 after a nearest 2x resize
    assert ignore[22:24].all() and int(ignore.sum()) == 2 * W * 2
    assert ignore_region(PreparedImage(0, VocDataset(voc_root, segmentation=False)[0],
                                       torch.zeros(3, H, W), 1.0, 1.0)) is None
