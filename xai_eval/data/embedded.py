"""The embedded benchmark's images: a seeded generator writing a real COCO dataset.

Why synthetic: users and tests need a localization benchmark with *known* answers that
runs offline in minutes. Five object classes differ in shape **and** colour/texture
(a red shaded disk, a green striped square, a blue triangle, an orange ring, a purple
checkered cross) and sit on cluttered backgrounds (tinted noise, random lines and blobs in
any colour, so colour alone is not a clean cue). About 30% of the images hold two objects of
different classes; the image label is the class of the **larger** (primary) object, which
is at least ~1.4x the radius of the other, and both classes are recorded (the
class-discrimination study needs two-class images).

Masks are exact: each object is rasterised on pixel centres, objects never overlap, the
box is the tight box of the mask (``x2 = last column + 1``), and masks are stored as
compressed COCO RLE. Every image draws from its own ``numpy`` generator seeded with
``(seed, split, index)``, so files are byte-identical across runs and machines.

Layout written under the benchmark root (``annotations/instances_<split>.json`` +
``<split>/<index>.png``) is the plain COCO layout, read by :class:`~xai_eval.data.coco.CocoDataset`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from xai_eval.data.coco import CocoDataset, mask_to_rle

VERSION = "embedded-v1"
CLASSES: tuple[str, ...] = ("disk", "square", "triangle", "ring", "cross")
SPLITS: tuple[str, ...] = ("train", "val", "test")
_BASE_COLOURS = np.array(
    [[215, 45, 40], [40, 175, 60], [45, 80, 220], [240, 155, 20], [160, 50, 200]], dtype=np.float64
)


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that determines the generated files (part of the cache key)."""

    seed: int = 0
    image_size: int = 64
    train: int = 1500
    val: int = 300
    test: int = 500
    two_object_fraction: float = 0.3

    def sizes(self) -> dict[str, int]:
        return {"train": self.train, "val": self.val, "test": self.test}


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The parent cache folder: ``cache_dir``, else ``$XAI_EVAL_CACHE``, else ~/.cache/xai-eval."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("XAI_EVAL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "xai-eval"


def config_key(*configs: Any) -> str:
    """Folder name: ``embedded-v1`` for the defaults, plus a short hash for any other config."""
    defaults = [type(c)() for c in configs]
    if list(configs) == defaults:
        return VERSION
    blob = json.dumps([asdict(c) for c in configs], sort_keys=True).encode()
    return f"{VERSION}-{hashlib.sha256(blob).hexdigest()[:10]}"


# --- drawing -------------------------------------------------------------------------------


def shape_mask(cls: int, size: int, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """Boolean (size, size) mask of class ``cls`` centred at (cx, cy), radius r, rotated."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    dx, dy = xx - cx, yy - cy
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    dist = np.hypot(u, v)
    name = CLASSES[cls]
    if name == "disk":
        return dist <= r
    if name == "square":
        return (np.abs(u) <= 0.7 * r) & (np.abs(v) <= 0.7 * r)
    if name == "triangle":  # three half-planes 120 degrees apart: equilateral, inradius r/2
        inside = np.ones_like(u, dtype=bool)
        for k in range(3):
            phi = 2 * np.pi * k / 3 + np.pi / 2
            inside &= u * np.cos(phi) + v * np.sin(phi) <= 0.5 * r
        return inside
    if name == "ring":
        return (dist <= r) & (dist >= 0.55 * r)
    if name == "cross":
        arm = 0.3 * r
        return ((np.abs(u) <= arm) & (np.abs(v) <= r)) | ((np.abs(v) <= arm) & (np.abs(u) <= r))
    raise ValueError(f"unknown class index {cls}")


def _texture(cls: int, size: int, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """Brightness factor (size, size) giving each class its texture."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    u = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
    v = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)
    name = CLASSES[cls]
    if name == "disk":  # radial shading
        return 1.05 - 0.45 * np.clip(np.hypot(xx - cx + 0.3 * r, yy - cy + 0.3 * r) / (1.6 * r), 0, 1)
    if name == "square":  # stripes
        return np.where(np.sin(u * 2 * np.pi / 4.0) > 0, 1.0, 0.55)
    if name == "cross":  # checker
        return np.where((np.floor(u / 3) + np.floor(v / 3)) % 2 == 0, 1.0, 0.5)
    return np.ones((size, size))


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    from PIL import Image, ImageDraw

    tint = rng.uniform(70, 170) + rng.uniform(-25, 25, size=3)
    canvas = np.clip(tint + rng.normal(0, 14, size=(size, size, 3)), 0, 255)
    image = Image.fromarray(canvas.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(3, 7))):  # clutter lines in any colour
        points = [tuple(float(p) for p in rng.uniform(0, size, 2)) for _ in range(2)]
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.line(points, fill=colour, width=int(rng.integers(1, 3)))
    for _ in range(int(rng.integers(2, 5))):  # small blobs
        cx, cy = rng.uniform(0, size, 2)
        rad = rng.uniform(1.5, 4.5)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse([cx - rad, cy - rad, cx + rad, cy + rad], fill=colour)
    return np.asarray(image, dtype=np.float64)


@dataclass
class DrawnObject:
    cls: int
    mask: np.ndarray
    primary: bool


def _place(rng: np.random.Generator, size: int, radii: list[float]) -> list[tuple[float, float]]:
    """Centres for objects of the given radii, inside the image and not overlapping."""
    for _ in range(1000):
        centres = [tuple(rng.uniform(r + 1, size - r - 1, 2)) for r in radii]
        ok = all(
            np.hypot(centres[i][0] - centres[j][0], centres[i][1] - centres[j][1]) > radii[i] + radii[j] + 2
            for i in range(len(radii)) for j in range(i + 1, len(radii))
        )
        if ok:
            return [(float(x), float(y)) for x, y in centres]
    raise RuntimeError("could not place non-overlapping objects; image_size too small")


def render_image(rng: np.random.Generator, size: int, primary: int, two_objects: bool) -> tuple[np.ndarray, list[DrawnObject]]:
    """One image (uint8 HxWx3) and its objects; the first object is the primary one."""
    scale = size / 64.0
    canvas = _background(rng, size)
    classes = [primary]
    if two_objects:
        radii = [rng.uniform(14, 19) * scale, rng.uniform(7, 10) * scale]
        classes.append(int(rng.choice([c for c in range(len(CLASSES)) if c != primary])))
    else:
        radii = [rng.uniform(11, 20) * scale]
    objects = []
    for index, ((cx, cy), r, cls) in enumerate(zip(_place(rng, size, radii), radii, classes, strict=True)):
        angle = rng.uniform(0, 2 * np.pi)
        mask = shape_mask(cls, size, cx, cy, r, angle)
        colour = np.clip(_BASE_COLOURS[cls] + rng.uniform(-25, 25, 3), 0, 255)
        shade = _texture(cls, size, cx, cy, r, angle)[..., None]
        pixels = np.clip(colour * shade + rng.normal(0, 8, (size, size, 3)), 0, 255)
        canvas[mask] = pixels[mask]
        objects.append(DrawnObject(cls, mask, index == 0))
    return np.round(canvas).astype(np.uint8), objects


def tight_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """xyxy box of a mask's pixels: (first col, first row, last col + 1, last row + 1)."""
    rows, cols = np.nonzero(mask)
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


# --- writing --------------------------------------------------------------------------------


def _write_split(root: Path, split: str, count: int, config: GeneratorConfig, progress: bool) -> None:
    from PIL import Image
    from tqdm.auto import tqdm

    (root / split).mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    split_index = SPLITS.index(split)
    for i in tqdm(range(count), desc=f"embedded benchmark: {split} images", disable=not progress,
                  leave=False):
        rng = np.random.default_rng([config.seed, split_index, i])
        primary = i % len(CLASSES)
        two = bool(rng.random() < config.two_object_fraction)
        pixels, objects = render_image(rng, config.image_size, primary, two)
        file_name = f"{i:05d}.png"
        Image.fromarray(pixels).save(root / split / file_name, format="PNG")
        image_id = i + 1
        images.append({
            "id": image_id, "file_name": file_name, "width": config.image_size,
            "height": config.image_size, "label": primary + 1,
            "classes_present": sorted({o.cls + 1 for o in objects}),
        })
        for obj in objects:
            x1, y1, x2, y2 = tight_box(obj.mask)
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id, "category_id": obj.cls + 1,
                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": int(obj.mask.sum()), "iscrowd": 0,
                "segmentation": mask_to_rle(obj.mask), "primary": obj.primary,
            })
    data = {
        "info": {"description": f"xai-eval {VERSION} synthetic benchmark, split {split}",
                 "version": VERSION, "generator": asdict(config)},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": n, "supercategory": "shape"} for i, n in enumerate(CLASSES)],
    }
    (root / "annotations").mkdir(exist_ok=True)
    with open(root / "annotations" / f"instances_{split}.json", "w", encoding="utf-8") as handle:
        json.dump(data, handle, sort_keys=True)


def generate_embedded_dataset(root: str | os.PathLike[str], config: GeneratorConfig | None = None,
                              progress: bool = True) -> Path:
    """Write the COCO dataset for ``config`` into ``root`` (created; must not hold one yet)."""
    config = config or GeneratorConfig()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for split, count in config.sizes().items():
        _write_split(root, split, count, config, progress)
    manifest = {"version": VERSION, "generator": asdict(config), "classes": list(CLASSES)}
    (root / "data.json").write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    return root


def data_complete(root: Path) -> bool:
    """Whether ``root`` holds a finished dataset (the manifest is written last)."""
    return (root / "data.json").is_file() and all(
        (root / "annotations" / f"instances_{s}.json").is_file() for s in SPLITS
    )


def ensure_embedded_data(cache_dir: str | os.PathLike[str] | None = None,
                         config: GeneratorConfig | None = None, progress: bool = True,
                         extra_key: tuple[Any, ...] = ()) -> Path:
    """The benchmark root with its data generated (only the data, no models); returns root.

    Generation goes to a temporary sibling folder renamed into place, so a killed run or a
    concurrent one never leaves a half-written dataset that looks complete.
    """
    config = config or GeneratorConfig()
    root = cache_root(cache_dir) / config_key(config, *extra_key)
    if data_complete(root):
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
    try:
        generate_embedded_dataset(tmp, config, progress)
        if root.exists() and not data_complete(root):
            _merge_into(tmp, root)
        else:
            try:
                tmp.rename(root)
            except OSError:  # another process finished first
                if not data_complete(root):
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def _merge_into(tmp: Path, root: Path) -> None:
    """Move freshly generated data into an existing folder (e.g. one holding only models)."""
    for child in ("train", "val", "test", "annotations"):
        target = root / child
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(tmp / child), str(target))
    shutil.move(str(tmp / "data.json"), str(root / "data.json"))


def load_split_arrays(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """All images of a split as uint8 (N, H, W, 3) and their labels (class index of the primary)."""
    from PIL import Image

    with open(root / "annotations" / f"instances_{split}.json", encoding="utf-8") as handle:
        data = json.load(handle)
    images = sorted(data["images"], key=lambda im: im["id"])
    pixels = np.stack([np.asarray(Image.open(root / split / im["file_name"]).convert("RGB"))
                       for im in images])
    labels = np.array([im["label"] - 1 for im in images], dtype=np.int64)
    return pixels, labels


class EmbeddedDataset(CocoDataset):
    """The embedded synthetic benchmark (generated on first use), read as COCO.

    ``root`` is optional: by default the cached benchmark (``$XAI_EVAL_CACHE`` or
    ~/.cache/xai-eval) is used and generated if missing. Option ``split`` (default
    ``"test"``). ``item.extras["label"]`` holds the primary object's category id.
    """

    name: ClassVar[str] = "embedded"

    def __init__(self, root: str | os.PathLike[str] | None = None, **options: Any) -> None:
        split = str(options.pop("split", "test"))
        if split not in SPLITS:
            raise ValueError(f"embedded split must be one of {SPLITS}, not {split!r}")
        if root is None:
            root = ensure_embedded_data(options.pop("cache_dir", None), progress=options.pop("progress", True))
        super().__init__(root, split=split, **options)
