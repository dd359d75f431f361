"""The real-model suite: EfficientNet-Lite0 on foolbox's labelled ImageNet photos.

The end-to-end test needs the optional extra (``pip install 'xai-eval[real]'`` plus
``pip install --no-deps foolbox``) and skips with that reason when it is absent; the
dataset adapter's file handling and the CLI's missing-extra message are tested without it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from click.testing import CliRunner
from PIL import Image

from xai_eval.cli import main
from xai_eval.data.foolbox_photos import ImagenetPhotosDataset
from xai_eval.db.base import make_engine, session_factory
from xai_eval.errors import MissingResourceError
from xai_eval.models import real
from xai_eval.plugins import default_registries
from xai_eval.suite import store
from xai_eval.suite.config import load_suite, parse_suite, real_suite_path
from xai_eval.suite.grid import grid_filename
from xai_eval.suite.pipeline import run_suite
from xai_eval.suite.runner import RunOptions

pytestmark = pytest.mark.real
MISSING = real.real_extra_available()
needs_real = pytest.mark.skipif(
    MISSING is not None, reason=f"optional extra absent ({MISSING}); install it with "
    f"{real.INSTALL_HINT} and {real.PHOTOS_HINT}")

PHOTOS, GRID_ROWS = 4, 3
EXPLAINERS = ["gradcam", "cam", "backprop", "center"]


def _photo_folder(folder: Path, names: list[str]) -> Path:
    folder.mkdir()
    for name in names:
        if name.endswith(".jpg"):
            Image.new("RGB", (8, 6), (200, 10, 10)).save(folder / name)
        else:
            (folder / name).write_text("not a photo")
    return folder


def test_photo_folder_yields_labels_without_boxes(tmp_path):
    root = _photo_folder(tmp_path / "p", ["imagenet_01_559.jpg", "imagenet_00_243.jpg",
                                          "notes.txt", "imagenet_x_1.jpg"])
    dataset = ImagenetPhotosDataset(root, classes=[str(i) for i in range(1000)])
    assert len(dataset) == 2
    first, second = dataset[0], dataset[1]
    assert (first.image_id, dataset.item_label(first)) == ("imagenet_00_243", 243)
    assert (second.image_id, dataset.item_label(second)) == ("imagenet_01_559", 559)
    assert first.annotations == [] and first.classes_present() == ()
    assert first.load_image().size == (8, 6)
    with pytest.raises(IndexError):
        dataset[2]


def test_photo_folder_errors_say_what_is_expected(tmp_path):
    with pytest.raises(MissingResourceError, match="does not exist"):
        ImagenetPhotosDataset(tmp_path / "absent")
    empty = _photo_folder(tmp_path / "empty", ["cat.jpg", "readme.txt"])
    with pytest.raises(MissingResourceError, match=r"imagenet_<index>_<label>\.jpg"):
        ImagenetPhotosDataset(empty)


def test_packaged_real_suite_is_valid():
    config = load_suite(real_suite_path(), default_registries())
    assert config.models[0].spec == "efficientnet_lite0"
    assert config.datasets[0].format == "imagenet_photos" and config.report.grid > 0
    assert {m.name for m in config.metrics} == {"deletion", "insertion"}


def test_demo_real_without_the_extra_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(real, "real_extra_available", lambda: "the package is not installed")
    result = CliRunner().invoke(main, ["demo", "--real", "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "pip install 'xai-eval[real]'" in result.output and "not installed" in result.output


def _independent_predictions(count: int) -> tuple[torch.Tensor, list[int]]:
    """Top-5 classes of the first ``count`` photos, computed here without the suite.

    Same geometry as the runner documents (resize to the input size, then the model's own
    preprocessing), but read from the files and fed to a freshly loaded model.
    """
    loaded = real.load_efficientnet_lite0()
    photos = real.foolbox_imagenet_photos()[:count]
    batch = torch.stack([
        real.lite0_preprocess(Image.open(path).convert("RGB").resize((224, 224), Image.BILINEAR))
        for path, _ in photos])
    with torch.no_grad():
        top5 = loaded.model(batch).topk(5, dim=1).indices
    return top5, [label for _, label in photos]


@needs_real
def test_real_suite_end_to_end(tmp_path, sqlite_url):
    registries = default_registries()
    data = yaml.safe_load(real_suite_path().read_text())
    data.update(
        explainers=EXPLAINERS,
        datasets=[{"id": "photos", "format": "imagenet_photos", "limit": PHOTOS}],
        metrics=["mask_iou", {"name": "deletion", "max_images": 1, "params": {"step": 12544}}],
        report={"examples": 0, "grid": GRID_ROWS},
    )
    config = parse_suite(data)
    notes: list[str] = []
    torch.set_num_threads(1)
    result = run_suite(config, RunOptions(db_url=sqlite_url, progress=False, echo=notes.append),
                       tmp_path / "out", registries)
    assert result.outcome.complete and result.summary is not None

    # accuracy equals an independent computation (the model's own top-k vs the file labels)
    top5, labels = _independent_predictions(PHOTOS)
    top1_acc = 100.0 * sum(int(t[0]) == y for t, y in zip(top5, labels, strict=True)) / PHOTOS
    top5_acc = 100.0 * sum(y in t.tolist() for t, y in zip(top5, labels, strict=True)) / PHOTOS
    cls = result.summary.get("photos", "lite0", "", "classification")
    assert cls["n"] == PHOTOS
    assert cls["top1_accuracy"] == pytest.approx(top1_acc)
    assert cls["top5_accuracy"] == pytest.approx(top5_acc)
    engine = make_engine(sqlite_url)
    try:
        rows = store.result_rows(session_factory(engine), result.outcome.run_id)
    finally:
        engine.dispose()
    stored = {r["image_id"]: r for r in rows if r["metric"] == "classification"}
    photos = real.foolbox_imagenet_photos()[:PHOTOS]
    for (path, label), expected in zip(photos, top5[:, 0].tolist(), strict=True):
        assert stored[path.stem]["class_id"] == label
        assert stored[path.stem]["values"]["top1_class"] == expected

    # box/mask metrics are skipped for a classification-only dataset, with a note
    assert not [r for r in rows if r["metric"] == "mask_iou"]
    assert any("mask_iou" in n and "gt_mask" in n for n in notes)
    deletion = [r for r in rows if r["metric"] == "deletion"]
    assert len(deletion) == len(EXPLAINERS)  # one image (max_images: 1) per explainer
    assert all(r["class_id"] == labels[0] for r in deletion)

    # the grid: GRID_ROWS photos x (image + every explainer) panels of 2 in at 100 dpi
    grid = tmp_path / "out" / grid_filename("lite0", "photos")
    with Image.open(grid) as image:
        assert image.size == (200 * (len(EXPLAINERS) + 1), 200 * GRID_ROWS)
    page = (tmp_path / "out" / "report.html").read_text()
    assert f'src="{grid.name}"' in page
    assert "Classification accuracy" in page and f"{top1_acc:.1f}" in page
