"""The 20 labelled ImageNet validation photos that ship in foolbox's wheel (format ``imagenet_photos``).

A classification-only dataset: every item carries its ImageNet class index (the file name
``imagenet_<index>_<label>.jpg``) and no boxes or masks, so the suite scores classification
accuracy and the metrics that need only the image and the model (deletion, insertion);
box/mask metrics are left out with a note. It exists so a real pretrained model can be
explained on real photos with nothing downloaded: ``pip install --no-deps foolbox`` brings
the files (see :mod:`xai_eval.models.real`, whose model uses :func:`imagenet_classes`);
foolbox itself is never imported.

``root`` is optional: by default the installed foolbox's ``data`` folder; any folder of
``imagenet_<index>_<label>.jpg`` files works the same way.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any, ClassVar

from xai_eval.data.base import Dataset, DatasetItem
from xai_eval.errors import MissingResourceError

PHOTOS_HINT = "pip install --no-deps foolbox"
_PHOTO_NAME = re.compile(r"^imagenet_(\d+)_(\d+)\.jpe?g$")


def installed_package_dir(module: str, hint: str, what: str) -> Path:
    """The installed package's folder, found without importing it (or an error naming
    ``what`` needs it and the ``hint`` that installs it)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingResourceError(
            f"{what} needs the package {module!r}, which is not installed. Install it with: {hint}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def foolbox_imagenet_photos() -> list[tuple[Path, int]]:
    """The 20 labelled ImageNet validation photos in foolbox's wheel: (path, class index)."""
    folder = installed_package_dir("foolbox", PHOTOS_HINT, "The ImageNet sample photos") / "data"
    photos = _photos_in(folder) if folder.is_dir() else []
    if not photos:
        raise MissingResourceError(
            f"no imagenet_<index>_<label>.jpg photos in {folder}; reinstall with: {PHOTOS_HINT}"
        )
    return photos


def imagenet_classes() -> list[str] | None:
    """The 1000 ImageNet class names in the standard index order, as torchvision ships them."""
    try:
        from torchvision.models import ResNet50_Weights

        categories = list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])
    except (ImportError, AttributeError, KeyError):  # pragma: no cover - old torchvision
        return None
    return categories if len(categories) == 1000 else None


def _photos_in(folder: Path) -> list[tuple[Path, int]]:
    """(path, label) of the folder's ``imagenet_<index>_<label>.jpg`` files, by index."""
    found = []
    for path in folder.iterdir():
        match = _PHOTO_NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path, int(match.group(2))))
    return [(path, label) for _, path, label in sorted(found)]


class ImagenetPhotosDataset(Dataset):
    """Labelled ImageNet photos named ``imagenet_<index>_<label>.jpg`` (default: foolbox's 20).

    Classification labels only (no boxes/masks). Option ``classes``: a list of class names
    (default: the 1000 ImageNet names torchvision ships).
    """

    name: ClassVar[str] = "imagenet_photos"

    def __init__(self, root: str | Path | None = None, **options: Any) -> None:
        if root is None:
            photos = foolbox_imagenet_photos()  # MissingResourceError with the install hint
            root = photos[0][0].parent
        else:
            root = Path(root)
            if not root.is_dir():
                raise MissingResourceError(
                    f"photo folder {root} does not exist; it must hold "
                    "imagenet_<index>_<label>.jpg files (or leave `root:` out to use foolbox's)"
                )
            photos = _photos_in(root)
            if not photos:
                raise MissingResourceError(
                    f"no imagenet_<index>_<label>.jpg files in {root}; name each photo by its "
                    "position and its ImageNet class index, e.g. imagenet_00_243.jpg"
                )
        super().__init__(root, **options)
        self.photos = photos
        if options.get("classes") is not None:
            self.classes = [str(c) for c in options["classes"]]
        else:
            self.classes = imagenet_classes() or [str(i) for i in range(1000)]

    def __len__(self) -> int:
        return len(self.photos)

    def __getitem__(self, index: int) -> DatasetItem:
        if not -len(self) <= index < len(self):
            raise IndexError(f"photo index {index} out of range for {len(self)} photos")
        path, label = self.photos[index]
        return DatasetItem(path.stem, path, 0, 0, [], {"label": label})

    def item_label(self, item: DatasetItem) -> int:
        """The photo's ImageNet class index (the runner's image-level label)."""
        return int(item.extras["label"])
