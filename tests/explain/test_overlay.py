"""Heat-map overlays: blending math, resizing, degenerate maps, the model's view, grids."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.models import ResNet50_Weights
from torchvision.transforms import functional as F

from xai_eval.errors import InputValidationError
from xai_eval.explain.overlay import model_view, overlay, save_grid


@pytest.fixture
def photo() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, size=(21, 28, 3), dtype=np.uint8), "RGB")


def peak_map(height: int = 21, width: int = 28) -> torch.Tensor:
    saliency = torch.zeros(height, width)
    saliency[5, 7] = 3.0
    saliency[0, 0] = -1.0  # the minimum: min-max normalisation maps it to 0
    return saliency


def test_alpha_zero_returns_the_image(photo) -> None:
    out = overlay(photo, peak_map(), alpha=0.0)
    assert out.size == photo.size
    np.testing.assert_array_equal(np.asarray(out), np.asarray(photo))


def test_alpha_one_is_the_colormap_of_the_min_max_normalised_map(photo) -> None:
    out = np.asarray(overlay(photo, peak_map(), alpha=1.0, cmap="viridis")).astype(int)
    viridis = matplotlib.colormaps["viridis"]
    top = np.rint(np.array(viridis(1.0)[:3]) * 255).astype(int)
    bottom = np.rint(np.array(viridis(0.0)[:3]) * 255).astype(int)
    middle = np.rint(np.array(viridis(1 / 4)[:3]) * 255).astype(int)  # value 0 in [-1, 3]
    np.testing.assert_array_equal(out[5, 7], top)
    np.testing.assert_array_equal(out[0, 0], bottom)
    np.testing.assert_array_equal(out[10, 20], middle)


def test_blend_is_the_weighted_mean(photo) -> None:
    half = np.asarray(overlay(photo, peak_map(), alpha=0.5, cmap="gray")).astype(float)
    gray = np.full(3, 0.25 * 255)  # 'gray' maps the value 0 (normalised 0.25) to 25% grey
    expected = 0.5 * np.asarray(photo, dtype=float)[10, 20] + 0.5 * gray
    np.testing.assert_allclose(half[10, 20], expected, atol=0.51)


def test_small_map_is_resized_to_the_image(photo) -> None:
    coarse = torch.zeros(7, 7)
    coarse[3, 3] = 1.0
    heat = np.asarray(overlay(photo, coarse, alpha=1.0)).astype(int)
    assert heat.shape == (21, 28, 3)
    red = heat[..., 0] - heat[..., 2]  # 'jet' is red at the top of the scale
    y, x = np.unravel_index(red.argmax(), red.shape)
    assert abs(y - 10) <= 1 and abs(x - 14) <= 1


def test_constant_map_is_uniform_and_finite(photo) -> None:
    heat = np.asarray(overlay(photo, torch.full((21, 28), 2.5), alpha=1.0))
    assert (heat == heat[0, 0]).all()


@pytest.mark.parametrize(
    ("saliency", "kwargs", "message"),
    [
        (torch.zeros(2, 4, 4), {}, r"shape \(H, W\); got \(2, 4, 4\)"),
        (torch.tensor([[float("nan"), 0.0]]), {}, "NaN or Inf"),
        (torch.zeros(4, 4), {"alpha": 1.5}, r"alpha must be in \[0, 1\]"),
        (torch.zeros(4, 4), {"cmap": "jett"}, "unknown colormap 'jett'"),
        ([[0.0]], {}, "saliency must be a"),
    ],
)
def test_bad_input(photo, saliency, kwargs, message) -> None:
    with pytest.raises(InputValidationError, match=message):
        overlay(photo, saliency, **kwargs)


def test_not_an_image_is_refused() -> None:
    with pytest.raises(InputValidationError, match="PIL.Image"):
        overlay(np.zeros((4, 4, 3)), torch.zeros(4, 4))


def test_numpy_and_single_channel_maps_are_accepted(photo) -> None:
    a = overlay(photo, peak_map().numpy())
    b = overlay(photo, peak_map()[None])
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_model_view_replays_torchvisions_resize_and_crop() -> None:
    image = Image.new("RGB", (300, 200), (10, 20, 30))
    image.paste((200, 0, 0), (0, 0, 60, 200))  # a red band on the left, cropped off
    transforms = ResNet50_Weights.IMAGENET1K_V1.transforms()
    view = model_view(image, transforms, (224, 224))
    expected = F.center_crop(F.resize(image, [256]), [224])
    np.testing.assert_array_equal(np.asarray(view), np.asarray(expected))


def test_model_view_of_a_compose_stops_at_to_tensor() -> None:
    image = Image.new("RGB", (64, 48), (1, 2, 3))
    compose = T.Compose([T.Resize(40), T.CenterCrop(32), T.ToTensor()])
    assert model_view(image, compose, (32, 32)).size == (32, 32)
    assert model_view(image, lambda img: img, (24, 20)).size == (20, 24)  # plain resize


def test_save_grid_writes_one_panel_per_map(tmp_path, photo) -> None:
    maps = [[peak_map(), torch.rand(7, 7)], [torch.rand(21, 28), peak_map()]]
    path = save_grid(tmp_path / "sub" / "grid.png", [photo, photo], maps,
                     column_titles=["gradcam", "backprop"], row_titles=["a", "b"], dpi=50)
    with Image.open(path) as written:
        assert written.format == "PNG"
        assert written.size == (3 * 2 * 50, 2 * 2 * 50)


def test_save_grid_checks_its_layout(tmp_path, photo) -> None:
    with pytest.raises(InputValidationError, match="one row of maps per image"):
        save_grid(tmp_path / "g.png", [photo], [[peak_map()], [peak_map()]])
    with pytest.raises(InputValidationError, match="same number of maps"):
        save_grid(tmp_path / "g.png", [photo, photo], [[peak_map()], []])
    with pytest.raises(InputValidationError, match="2 column titles for 1 maps"):
        save_grid(tmp_path / "g.png", [photo], [[peak_map()]], column_titles=["a", "b"])
