"""The embedded benchmark's generator: deterministic files, exact masks, a real COCO dataset."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import xai_eval_datasets

from xai_eval.data.coco import CocoDataset
from xai_eval.data.embedded import (
    CLASSES,
    EmbeddedDataset,
    GeneratorConfig,
    config_key,
    ensure_embedded_data,
    generate_embedded_dataset,
    load_split_arrays,
    tight_box,
)
from xai_eval.plugins import build_registries

TINY = GeneratorConfig(train=12, val=4, test=30)


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files(tmp_path):
    first = _hashes(generate_embedded_dataset(tmp_path / "a", TINY, progress=False))
    second = _hashes(generate_embedded_dataset(tmp_path / "b", TINY, progress=False))
    assert first == second
    assert len(first) == 12 + 4 + 30 + 3 + 1  # images, three instances files, data.json
    other = _hashes(generate_embedded_dataset(tmp_path / "c", GeneratorConfig(seed=1, train=12, val=4, test=30),
                                              progress=False))
    assert other["train/00000.png"] != first["train/00000.png"]


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    return generate_embedded_dataset(tmp_path_factory.mktemp("embedded"), TINY, progress=False)


def test_masks_match_boxes_and_labels_are_the_larger_object(tiny_root):
    ds = CocoDataset(tiny_root, split="test")
    assert ds.classes == list(CLASSES) and len(ds) == 30
    two_object = 0
    for item in ds:
        assert 1 <= len(item.annotations) <= 2
        for ann in item.annotations:
            assert ann.mask.shape == (64, 64) and ann.mask.any()
            assert ann.box == tuple(float(v) for v in tight_box(ann.mask))
            assert 0 <= ann.box[0] < ann.box[2] <= 64 and 0 <= ann.box[1] < ann.box[3] <= 64
        label = ds.item_label(item)
        areas = [a.mask.sum() for a in item.annotations]
        assert item.annotations[int(np.argmax(areas))].class_id == label
        assert label == (int(item.image_id) - 1) % len(CLASSES)  # classes cycle by index
        assert sorted(c - 1 for c in item.extras["classes_present"]) == list(item.classes_present())
        if len(item.annotations) == 2:
            two_object += 1
            a, b = item.annotations
            assert a.class_id != b.class_id
            assert not (a.mask & b.mask).any()
            assert max(areas) > 1.5 * min(areas)
    assert 3 <= two_object <= 18  # ~30% of 30 images


def test_pixels_and_labels_load_for_training(tiny_root):
    pixels, labels = load_split_arrays(tiny_root, "train")
    assert pixels.shape == (12, 64, 64, 3) and pixels.dtype == np.uint8
    assert labels.tolist() == [i % 5 for i in range(12)]


def test_cache_is_versioned_and_reused(tmp_path, monkeypatch):
    assert config_key(GeneratorConfig()) == "embedded-v1"
    assert config_key(TINY).startswith("embedded-v1-")
    monkeypatch.setenv("XAI_EVAL_CACHE", str(tmp_path / "cache"))
    root = ensure_embedded_data(config=TINY, progress=False)
    assert root == tmp_path / "cache" / config_key(TINY)
    stamp = (root / "data.json").stat().st_mtime_ns
    assert ensure_embedded_data(config=TINY, progress=False) == root
    assert (root / "data.json").stat().st_mtime_ns == stamp
    (root / "data.json").unlink()  # an incomplete dataset is regenerated
    assert ensure_embedded_data(config=TINY, progress=False) == root
    assert (root / "data.json").is_file()
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".embedded")]


def test_embedded_format_is_registered_and_reads_the_test_split(tiny_root):
    registries = build_registries(extra_plugins=[xai_eval_datasets], load_entry_points=False)
    assert not registries.errors
    entry = registries.get("datasets", "embedded")
    ds = entry.cls(tiny_root)
    assert isinstance(ds, EmbeddedDataset) and len(ds) == 30
    assert ds[0].path == tiny_root / "test" / "00000.png"
    assert ds[0].load_image().size == (64, 64)
    assert len(entry.cls(tiny_root, split="val")) == 4
    with pytest.raises(ValueError, match="split must be one of"):
        entry.cls(tiny_root, split="holdout")
    for name in ("coco", "voc", "ilsvrc", "folder_csv"):
        assert registries.get("datasets", name).summary
