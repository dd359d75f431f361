"""``xai-eval explain`` end to end through click's CliRunner, on weights saved here."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from torchvision.models import ResNet18_Weights, get_model

import xai_eval
from xai_eval.cli import main
from xai_eval.cli.explain import resolve_target
from xai_eval.errors import InputValidationError
from xai_eval.explain.overlay import model_view, overlay

CATEGORIES = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]


@pytest.fixture(autouse=True)
def empty_torch_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No real torchvision download is ever found, whatever this machine has cached."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path / "torch_home" / "hub" / "checkpoints"


@pytest.fixture(scope="module")
def resnet18_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(3)
    path = tmp_path_factory.mktemp("weights") / "resnet18-f37072fd.pth"
    torch.save(get_model("resnet18", weights=None).state_dict(), path)
    return path


@pytest.fixture
def photo_path(tmp_path: Path) -> Path:
    """A 96x80 JPEG with a gradient background and a bright square."""
    y, x = np.mgrid[0:80, 0:96]
    pixels = np.stack([x * 2, y * 3, (x + y)], axis=-1).astype(np.uint8)
    pixels[20:50, 30:60] = (250, 240, 30)
    path = tmp_path / "photo.jpg"
    Image.fromarray(pixels, "RGB").save(path, quality=92)
    return path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def reference_run(weights: Path, photo: Path, method: str, target: int | None):
    """What the command must compute, done by hand with torchvision and the Python API."""
    model = get_model("resnet18", weights=None).eval()
    model.load_state_dict(torch.load(weights, weights_only=True))
    transforms = ResNet18_Weights.IMAGENET1K_V1.transforms()
    with Image.open(photo) as image:
        image = image.convert("RGB")
    batch = transforms(image).unsqueeze(0)
    with torch.no_grad():
        probabilities = model(batch).softmax(dim=1)[0]
    predicted = int(probabilities.argmax())
    target = predicted if target is None else target
    saliency = xai_eval.get_explainer(method, model)(batch, [target])[0]
    expected = overlay(model_view(image, transforms, (224, 224)), saliency)
    return predicted, probabilities, target, expected, model_view(image, transforms, (224, 224))


def test_explain_writes_the_overlay_and_prints_the_prediction(runner, resnet18_weights, photo_path,
                                                               tmp_path) -> None:
    out = tmp_path / "overlay.png"
    result = runner.invoke(main, ["explain", "--model", "resnet18", "--weights",
                                  str(resnet18_weights), "--method", "gradcam", "--image",
                                  str(photo_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    predicted, probabilities, _, expected, view = reference_run(
        resnet18_weights, photo_path, "gradcam", None)
    label = f"{predicted} {CATEGORIES[predicted]} (p={float(probabilities[predicted]):.3f})"
    assert f"predicted: {label}" in result.output
    assert f"explained: {label} with gradcam at layer 'layer4'" in result.output
    assert f"wrote {out}" in result.output
    with Image.open(out) as written:
        assert written.format == "PNG" and written.size == (224, 224)
        pixels = np.asarray(written.convert("RGB")).astype(int)
    np.testing.assert_array_equal(pixels, np.asarray(expected))  # exactly the Grad-CAM overlay
    assert np.abs(pixels - np.asarray(view).astype(int)).mean() > 10  # not the input image


def test_target_by_category_name(runner, resnet18_weights, photo_path, tmp_path) -> None:
    out = tmp_path / "goldfish.png"
    result = runner.invoke(main, ["explain", "--model", f"resnet18@{resnet18_weights}",
                                  "--method", "backprop", "--image", str(photo_path),
                                  "--target", "Goldfish", "--out", str(out), "--alpha", "0.7"])
    assert result.exit_code == 0, result.output
    _, probabilities, _, _, _ = reference_run(resnet18_weights, photo_path, "backprop", 1)
    assert f"explained: 1 goldfish (p={float(probabilities[1]):.3f}) with backprop\n" in result.output
    assert out.is_file()


def test_default_output_name(runner, resnet18_weights, photo_path, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["explain", "--model", "resnet18", "--weights",
                                  str(resnet18_weights), "--image", str(photo_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "photo_gradcam.png").is_file()


def test_without_weights_it_says_where_the_file_must_go(runner, photo_path, empty_torch_cache,
                                                        tmp_path) -> None:
    result = runner.invoke(main, ["explain", "--model", "resnet50", "--method", "gradcam",
                                  "--image", str(photo_path), "--out", str(tmp_path / "o.png")])
    assert result.exit_code == 1
    text = " ".join(result.output.split())  # undo click's line wrapping
    assert "pretrained weights must be supplied as a local file" in text
    assert str(empty_torch_cache / "resnet50-11ad3fa6.pth") in text
    assert "--weights /path/resnet50-11ad3fa6.pth" in text
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("kind", ["not_an_image", "truncated_jpeg"])
def test_corrupt_image_is_a_clear_error(runner, photo_path, tmp_path, kind) -> None:
    bad = tmp_path / "bad.jpg"
    data = b"this is not a jpeg" if kind == "not_an_image" else photo_path.read_bytes()[:300]
    bad.write_bytes(data)
    result = runner.invoke(main, ["explain", "--model", "resnet18@random", "--image", str(bad),
                                  "--out", str(tmp_path / "o.png")])
    assert result.exit_code == 1
    assert f"cannot decode image {bad}" in result.output
    assert "Traceback" not in result.output


TINY_FACTORY = '''
import torch.nn as nn


def build():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 3))
'''


def test_import_path_model_with_cam_and_a_named_layer(runner, photo_path, tmp_path,
                                                      monkeypatch) -> None:
    (tmp_path / "xe_cli_factory.py").write_text(textwrap.dedent(TINY_FACTORY))
    monkeypatch.syspath_prepend(str(tmp_path))
    import xe_cli_factory

    torch.manual_seed(0)
    torch.save(xe_cli_factory.build().state_dict(), tmp_path / "tiny.pth")
    args = ["explain", "--model", "xe_cli_factory:build", "--weights", str(tmp_path / "tiny.pth"),
            "--method", "cam", "--image", str(photo_path), "--out", str(tmp_path / "cam.png")]
    result = runner.invoke(main, [*args, "--layer", "1", "--target", "2"])
    assert result.exit_code == 0, result.output
    assert re.search(r"explained: 2 \(p=0\.\d{3}\) with cam at layer '1'", result.output)
    bad_layer = runner.invoke(main, [*args, "--layer", "body.9"])
    assert bad_layer.exit_code == 1 and "body.9" in bad_layer.output
    by_name = runner.invoke(main, [*args, "--target", "cat"])
    assert by_name.exit_code == 1 and "has no class names" in by_name.output


def test_unknown_method_lists_the_available_ones(runner, photo_path, tmp_path) -> None:
    result = runner.invoke(main, ["explain", "--model", "resnet18@random", "--method", "gradcan",
                                  "--image", str(photo_path), "--out", str(tmp_path / "o.png")])
    assert result.exit_code == 1
    assert "unknown explainer 'gradcan'; available:" in result.output and "gradcam" in result.output


def test_help_describes_the_command(runner) -> None:
    result = runner.invoke(main, ["explain", "--help"])
    assert result.exit_code == 0
    assert "heat-map overlay" in result.output and "--weights" in result.output


@pytest.mark.parametrize(
    ("target", "expected"),
    [(None, 7), ("3", 3), ("goldfish", 1), ("GREAT WHITE", 2), ("hammerhead", 4)],
)
def test_resolve_target(target, expected) -> None:
    assert resolve_target(target, CATEGORIES, 1000, predicted=7) == expected


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("1000", r"--target 1000 is out of range; the model has classes 0\.\.999"),
        ("-1", "out of range"),
        ("shark", r"matches several classes \(2 'great white shark', 3 'tiger shark'\)"),
        ("goldfsh", "is not a class name of this model; did you mean 'goldfish'"),
    ],
)
def test_resolve_target_errors(target, message) -> None:
    with pytest.raises(InputValidationError, match=message):
        resolve_target(target, CATEGORIES, 1000, predicted=0)


def test_exif_orientation_is_applied(tmp_path) -> None:
    from xai_eval.cli.explain import load_image

    image = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert load_image(tmp_path / "rotated.jpg").size == (20, 40)
