"""Folder + CSV adapter: image,class,x1,y1,x2,y2 rows, one object per row."""

from __future__ import annotations

import pytest

from xai_eval.data.base import CorruptImageError
from xai_eval.data.checks import DatasetFormatError
from xai_eval.data.folder_csv import FolderCsvDataset
from xai_eval.errors import MissingResourceError


@pytest.fixture
def csv_root(tmp_path, write_image, write_corrupt_jpeg):
    root = tmp_path / "shots"
    write_image(root / "a.png", 40, 30)
    write_image(root / "sub" / "b.png", 20, 20)
    write_corrupt_jpeg(root / "broken.jpg")
    (root / "annotations.csv").write_text(
        "image,class,x1,y1,x2,y2,note\n"
        "a.png,zebra,1,2,10,20,x\n"
        "sub/b.png,cat,0,0,25,10,\n"
        "a.png,cat,5.5,6,39,29,\n"
        "broken.jpg,cat,1,1,5,5,\n"
    )
    return root


def test_rows_grouped_per_image_with_sorted_class_names(csv_root):
    ds = FolderCsvDataset(csv_root)
    assert ds.classes == ["cat", "zebra"]
    assert [ds[i].image_id for i in range(len(ds))] == ["a.png", "sub/b.png", "broken.jpg"]
    a = ds[0]
    assert (a.width, a.height) == (40, 30)
    assert [(x.class_id, x.box) for x in a.annotations] == [(1, (1.0, 2.0, 10.0, 20.0)),
                                                             (0, (5.5, 6.0, 39.0, 29.0))]


def test_class_order_from_option_or_classes_txt(csv_root):
    assert FolderCsvDataset(csv_root, classes=["zebra", "cat"])[0].annotations[0].class_id == 0
    (csv_root / "classes.txt").write_text("zebra\ncat\ndog\n")
    assert FolderCsvDataset(csv_root).classes == ["zebra", "cat", "dog"]
    with pytest.raises(DatasetFormatError, match=r"annotations\.csv line 2: class 'zebra' is not in"):
        FolderCsvDataset(csv_root, classes=["cat"])


def test_box_clipped_with_warning_or_error(csv_root):
    item = FolderCsvDataset(csv_root)[1]
    assert item.annotations[0].box == (0.0, 0.0, 20.0, 10.0)
    assert "annotations.csv line 3" in item.extras["warnings"][0]
    with pytest.raises(DatasetFormatError, match=r"line 3: box .* outside the 20x20 image"):
        FolderCsvDataset(csv_root, out_of_image="error")[1]


def test_corrupt_image_is_raised_when_loaded(csv_root):
    item = FolderCsvDataset(csv_root)[2]
    assert item.annotations[0].box == (1.0, 1.0, 5.0, 5.0)
    with pytest.raises(CorruptImageError, match="broken.jpg"):
        item.load_image()


def test_bad_inputs_are_named(tmp_path, csv_root):
    with pytest.raises(MissingResourceError, match=r"(?s)image folder .*nope does not exist.*image,class,x1"):
        FolderCsvDataset(tmp_path / "nope")
    with pytest.raises(MissingResourceError, match=r"box CSV .*boxes\.csv does not exist"):
        FolderCsvDataset(csv_root, csv="boxes.csv")
    (csv_root / "annotations.csv").write_text("file,label,x1,y1,x2,y2\na.png,cat,1,1,2,2\n")
    with pytest.raises(DatasetFormatError, match=r"lacks column\(s\) \['image', 'class'\]"):
        FolderCsvDataset(csv_root)
    (csv_root / "annotations.csv").write_text("image,class,x1,y1,x2,y2\na.png,cat,1,one,2,2\n")
    with pytest.raises(DatasetFormatError, match="line 2: x1,y1,x2,y2 must be numbers"):
        FolderCsvDataset(csv_root)
    (csv_root / "annotations.csv").write_text("image,class,x1,y1,x2,y2\na.png,cat,5,1,2,2\n")
    with pytest.raises(DatasetFormatError, match=r"line 2: box .* empty or inverted"):
        FolderCsvDataset(csv_root)[0]
    (csv_root / "annotations.csv").write_text("image,class,x1,y1,x2,y2\na.png,cat,50,40,60,50\n")
    with pytest.raises(DatasetFormatError, match="lies entirely outside the 40x30 image"):
        FolderCsvDataset(csv_root)[0]
    (csv_root / "annotations.csv").write_text("image,class,x1,y1,x2,y2\n")
    with pytest.raises(DatasetFormatError, match="has a header but no rows"):
        FolderCsvDataset(csv_root)
