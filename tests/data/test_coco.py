"""COCO adapter: tiny instances JSON written here, parsed annotations checked exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from xai_eval.data.base import CorruptImageError
from xai_eval.data.checks import DatasetFormatError
from xai_eval.data.coco import CocoDataset
from xai_eval.errors import MissingResourceError

H, W = 30, 40


def _ring_mask() -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    d = np.hypot(xx - 28, yy - 18)
    return (d <= 7) & (d >= 3)


@pytest.fixture
def coco_root(tmp_path, write_image, write_corrupt_jpeg):
    root = tmp_path / "coco"
    write_image(root / "val2017" / "a.jpg", W, H)
    write_image(root / "val2017" / "b.jpg", W, H)
    write_corrupt_jpeg(root / "val2017" / "c.jpg")
    rle = mask_utils.encode(np.asfortranarray(_ring_mask().astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    crowd_counts = [H * 5, H * 2, H * (W - 7)]  # uncompressed RLE: columns 5 and 6 set
    data = {
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": W, "height": H},
            {"id": 2, "file_name": "b.jpg", "width": W, "height": H},
            {"id": 5, "file_name": "c.jpg", "width": 32, "height": 32},
        ],
        "categories": [{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"}],
        "annotations": [
            {"id": 10, "image_id": 1, "category_id": 3, "bbox": [10, 5, 10, 10], "area": 100,
             "iscrowd": 0, "segmentation": [[10, 5, 20, 5, 20, 15, 10, 15]]},
            {"id": 11, "image_id": 1, "category_id": 7, "bbox": [21, 11, 14, 14], "area": 1,
             "iscrowd": 0, "segmentation": rle},
            {"id": 12, "image_id": 1, "category_id": 7, "bbox": [5, 0, 2, 30], "area": 60,
             "iscrowd": 1, "segmentation": {"size": [H, W], "counts": crowd_counts}},
            {"id": 13, "image_id": 2, "category_id": 3, "bbox": [30.5, 20, 12, 15], "area": 1,
             "iscrowd": 0},
        ],
    }
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    return root


def test_categories_map_to_contiguous_indices_in_id_order(coco_root, capsys):
    ds = CocoDataset(coco_root)
    assert capsys.readouterr().out == ""  # pycocotools' prints would corrupt CLI tables
    assert ds.category_ids == [3, 7]
    assert ds.classes == ["cat", "dog"]
    assert len(ds) == 3
    assert [ds[i].image_id for i in range(3)] == ["1", "2", "5"]


def test_boxes_xywh_to_xyxy_and_masks_exact(coco_root):
    item = CocoDataset(coco_root)[0]
    assert (item.width, item.height) == (W, H)
    assert item.path == coco_root / "val2017" / "a.jpg"
    poly, ring = item.annotations
    assert poly.class_id == 0 and poly.box == (10.0, 5.0, 20.0, 15.0)
    expected_poly = np.zeros((H, W), bool)
    expected_poly[5:15, 10:20] = True
    assert poly.mask.dtype == bool and np.array_equal(poly.mask, expected_poly)
    assert ring.class_id == 1 and ring.box == (21.0, 11.0, 35.0, 25.0)
    assert np.array_equal(ring.mask, _ring_mask())
    assert not poly.difficult and not ring.difficult


def test_crowd_regions_set_aside_or_kept(coco_root):
    item = CocoDataset(coco_root)[0]
    assert len(item.annotations) == 2
    (crowd,) = item.extras["crowd"]
    expected = np.zeros((H, W), bool)
    expected[:, 5:7] = True
    assert np.array_equal(crowd.mask, expected)
    kept = CocoDataset(coco_root, include_crowd=True)[0]
    assert len(kept.annotations) == 3 and kept.extras["crowd"] == []


def test_box_outside_image_is_clipped_with_a_warning_or_refused(coco_root):
    ds = CocoDataset(coco_root)
    item = ds[1]
    (ann,) = item.annotations
    assert ann.box == (30.5, 20.0, 40.0, 30.0)
    assert ann.mask is None
    assert len(item.extras["warnings"]) == 1 and "clipped" in item.extras["warnings"][0]
    assert ds.warnings == item.extras["warnings"]
    with pytest.raises(DatasetFormatError, match="annotation id 13.*outside the 40x30 image"):
        CocoDataset(coco_root, out_of_image="error")[1]


def test_corrupt_image_raises_on_load_only(coco_root):
    item = CocoDataset(coco_root)[2]
    with pytest.raises(CorruptImageError, match="c.jpg"):
        item.load_image()
    assert CocoDataset(coco_root)[0].load_image().size == (W, H)


def test_missing_root_file_and_image_dir_name_the_path(tmp_path, coco_root):
    with pytest.raises(MissingResourceError, match=r"(?s)COCO root .*nowhere does not exist.*instances_<split>\.json"):
        CocoDataset(tmp_path / "nowhere")
    with pytest.raises(MissingResourceError, match=r"instances_train2017\.json does not exist"):
        CocoDataset(coco_root, split="train2017", image_dir="val2017")
    with pytest.raises(MissingResourceError, match=r"COCO image directory .*train2017"):
        CocoDataset(coco_root, split="train2017",
                    annotation_file="annotations/instances_val2017.json")


def test_wrong_format_names_the_file(tmp_path):
    root = tmp_path / "coco"
    (root / "val2017").mkdir(parents=True)
    (root / "annotations").mkdir()
    path = root / "annotations" / "instances_val2017.json"
    path.write_text("[1, 2, 3]")
    with pytest.raises(DatasetFormatError, match=r"instances_val2017\.json is not a COCO instances file"):
        CocoDataset(root)
    path.write_text("{not json")
    with pytest.raises(DatasetFormatError, match=r"instances_val2017\.json is not valid JSON"):
        CocoDataset(root)
    path.write_text(json.dumps({"images": [{"id": 1}], "annotations": [{"id": 1}], "categories": []}))
    with pytest.raises(DatasetFormatError, match="malformed COCO entry"):
        CocoDataset(root)


def test_torchray_difficult_flags_keyed_by_file_stem(coco_root, tmp_path):
    # classes in id order: cat (id 3) is index 0, dog (id 7) index 1
    flags = tmp_path / "pointing_game_ebp_coco_difficult.txt"
    flags.write_text("a\t0\t1\nb\t0\t0\n")
    ds = CocoDataset(coco_root, difficult_flags=str(flags))
    assert ds[0].extras["difficult_classes"] == [1]
    assert ds[1].extras["difficult_classes"] == []
    assert ds[2].extras["difficult_classes"] == list(ds[2].classes_present())  # no row
