"""Integer-only drawing of the embedded benchmark v2 scenes (FunnyBirds-style known evidence).

Why integers: the v2 benchmark promises the same files on every machine. Float
rasterisation (``sin``/``hypot`` per pixel, anti-aliased library drawing) can differ by one
ulp between libm builds and flip a pixel on a shape's edge. Here every shape test is an
exact integer inequality on pixel indices and every random number is an integer or a
choice drawn from a seeded :class:`numpy.random.Generator`, so a scene is a pure function
of its seed (for a given NumPy ``Generator`` stream, which NumPy keeps stable for
``integers``/``choice``/``random``).

A scene is drawn in two steps: :func:`sample_scene` draws *every* random quantity into a
:class:`SceneSpec`, and :func:`paint` turns a spec into pixels and masks. Interventions
(removing the evidence part, a distractor part or the bias cue) paint the same spec with
something left out, so nothing else in the image changes.

Objects: a body (ellipse or rounded rectangle, colour and speckle drawn independently of
the class) carrying one **evidence part** whose texture decides the class and 0-2
**distractor parts** with textures no class uses. Clutter (lines, blobs, distractor-textured
discs) is shared by all classes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

import numpy as np

#: the five classes, named after their evidence texture
CLASSES: tuple[str, ...] = ("hstripes", "vstripes", "checker", "rings", "dots")
#: textures of distractor parts and clutter discs (never a class's evidence)
DISTRACTOR_PATTERNS: tuple[str, ...] = ("solid", "diagonal")
#: bias-cue colours, one per class (a solid corner square; see :class:`Cue`)
CUE_COLOURS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255))
BODIES: tuple[str, ...] = ("ellipse", "roundrect")
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Part:
    """A textured disc on an object: centre pixel (cx, cy), radius r (integer pixels)."""

    cx: int
    cy: int
    r: int
    pattern: str
    fg: RGB
    bg: RGB
    evidence: bool


@dataclass(frozen=True)
class ObjectSpec:
    """One object: class, body box [x0, x1) x [y0, y1), body shape/colour, parts."""

    cls: int
    box: tuple[int, int, int, int]
    body: str
    colour: RGB
    speckle: int
    parts: tuple[Part, ...]
    primary: bool


@dataclass(frozen=True)
class Cue:
    """The planted-bias mark: a solid ``size`` x ``size`` square in a corner, colour of ``cls``."""

    cls: int
    corner: int  # 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right
    size: int


@dataclass(frozen=True)
class SceneSpec:
    """Every random choice of one image; :func:`paint` is a pure function of it."""

    size: int
    tint: RGB
    noise_seed: int
    lines: tuple[tuple[int, int, int, int, int, RGB], ...]  # x0, y0, x1, y1, half-width, colour
    blobs: tuple[tuple[int, int, int, RGB], ...]  # cx, cy, r, colour
    clutter: tuple[Part, ...]
    objects: tuple[ObjectSpec, ...]
    cue: Cue | None = None


@dataclass
class Painted:
    """Pixels and exact masks of a painted scene (masks are (size, size) bool)."""

    pixels: np.ndarray  # uint8 (size, size, 3)
    object_masks: list[np.ndarray]
    evidence_masks: list[np.ndarray]
    cue_mask: np.ndarray | None = None
    part_masks: list[list[np.ndarray]] = field(default_factory=list)


# --- integer shape tests --------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.int64)
    xx.flags.writeable = yy.flags.writeable = False
    return xx, yy


def disc_mask(size: int, cx: int, cy: int, r: int) -> np.ndarray:
    """Pixels whose index lies within r of (cx, cy): dx² + dy² <= r² + r (integer, rounder)."""
    xx, yy = _grid(size)
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r + r


def body_mask(size: int, body: str, box: tuple[int, int, int, int]) -> np.ndarray:
    """Ellipse or rounded rectangle inscribed in ``box``, tested on doubled pixel centres."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    xx, yy = _grid(size)
    bx = np.abs(2 * xx + 1 - (x0 + x1))  # doubled distance of the pixel centre from the box centre
    by = np.abs(2 * yy + 1 - (y0 + y1))
    inside_box = (xx >= x0) & (xx < x1) & (yy >= y0) & (yy < y1)
    if body == "ellipse":
        return inside_box & (bx * bx * h * h + by * by * w * w <= w * w * h * h)
    if body == "roundrect":
        rc = 2 * (min(w, h) // 4)  # doubled corner radius
        ex, ey = np.maximum(bx - (w - rc), 0), np.maximum(by - (h - rc), 0)
        return inside_box & (ex * ex + ey * ey <= rc * rc)
    raise ValueError(f"unknown body {body!r}; choose one of {BODIES}")


def _ring_index(d2: np.ndarray, width: int) -> np.ndarray:
    """floor(sqrt(d2) / width) by integer search (no float sqrt)."""
    bounds = (np.arange(1, 64, dtype=np.int64) * width) ** 2
    return np.searchsorted(bounds, d2, side="right")


def pattern_mask(size: int, pattern: str, cx: int, cy: int) -> np.ndarray:
    """Where a texture takes its foreground colour (period 4 px, anchored at the part centre)."""
    xx, yy = _grid(size)
    dx, dy = xx - cx, yy - cy
    if pattern == "hstripes":
        return (dy // 2) % 2 == 0
    if pattern == "vstripes":
        return (dx // 2) % 2 == 0
    if pattern == "checker":
        return (dx // 2 + dy // 2) % 2 == 0
    if pattern == "rings":
        return _ring_index(dx * dx + dy * dy, 2) % 2 == 0
    if pattern == "dots":
        return (dx % 4 < 2) & (dy % 4 < 2)
    if pattern == "solid":
        return np.ones((size, size), dtype=bool)
    if pattern == "diagonal":
        return ((dx + dy) // 2) % 2 == 0
    raise ValueError(f"unknown pattern {pattern!r}")


def cue_box(size: int, cue: Cue) -> tuple[int, int, int, int]:
    """xyxy box of the cue square (2 px from the image border)."""
    left = 2 if cue.corner in (0, 2) else size - 2 - cue.size
    top = 2 if cue.corner in (0, 1) else size - 2 - cue.size
    return left, top, left + cue.size, top + cue.size


# --- sampling -------------------------------------------------------------------------------


def _colour(rng: np.random.Generator, low: int = 0, high: int = 255) -> RGB:
    r, g, b = (int(v) for v in rng.integers(low, high + 1, 3))
    return r, g, b


def _contrasting(rng: np.random.Generator) -> tuple[RGB, RGB]:
    """Two colours at least 240 apart (sum of channel differences), so textures are visible."""
    while True:
        fg, bg = _colour(rng), _colour(rng)
        if sum(abs(a - b) for a, b in zip(fg, bg, strict=True)) >= 240:
            return fg, bg


def _part(rng: np.random.Generator, cx: int, cy: int, r: int, pattern: str, evidence: bool) -> Part:
    fg, bg = _contrasting(rng)
    return Part(cx, cy, r, pattern, fg, bg, evidence)


def _disc_inside(body: np.ndarray, cx: int, cy: int, r: int) -> bool:
    """Whether the disc lies inside ``body`` (tested on its bounding window only)."""
    size = body.shape[0]
    if cx - r < 0 or cy - r < 0 or cx + r >= size or cy + r >= size:
        return False
    dy, dx = np.mgrid[-r:r + 1, -r:r + 1]
    disc = dx * dx + dy * dy <= r * r + r
    return bool(body[cy - r:cy + r + 1, cx - r:cx + r + 1][disc].all())


def _place_parts(rng: np.random.Generator, size: int, body: np.ndarray, radius: int,
                 count: int) -> list[tuple[int, int]]:
    """Up to ``count`` disc centres fully inside ``body`` and 2 px apart (rejection sampling)."""
    ys, xs = np.nonzero(body)
    centres: list[tuple[int, int]] = []
    for _ in range(60 * count):
        if len(centres) == count:
            break
        k = int(rng.integers(0, len(xs)))
        cx, cy = int(xs[k]), int(ys[k])
        if not _disc_inside(body, cx, cy, radius + 1):
            continue
        if all((cx - x) ** 2 + (cy - y) ** 2 > (2 * radius + 3) ** 2 for x, y in centres):
            centres.append((cx, cy))
    return centres


def sample_object(rng: np.random.Generator, size: int, cls: int, box: tuple[int, int, int, int],
                  primary: bool) -> ObjectSpec:
    """An object of class ``cls`` in ``box``: the evidence part first, then distractors."""
    body = BODIES[int(rng.integers(0, len(BODIES)))]
    colour = _colour(rng, 40, 215)
    speckle = int(rng.integers(4, 13))
    w, h = box[2] - box[0], box[3] - box[1]
    radius = int(np.clip(min(w, h) // 5, 5, 14))
    mask = body_mask(size, body, box)
    wanted = 1 + int(rng.integers(1, 3))
    centres = _place_parts(rng, size, mask, radius, wanted)
    if not centres:  # the box guarantees room for one part; a centred one always fits
        centres = [((box[0] + box[2]) // 2, (box[1] + box[3]) // 2)]
    parts = [_part(rng, *centres[0], radius, CLASSES[cls], True)]
    for cx, cy in centres[1:]:
        pattern = DISTRACTOR_PATTERNS[int(rng.integers(0, len(DISTRACTOR_PATTERNS)))]
        parts.append(_part(rng, cx, cy, radius, pattern, False))
    return ObjectSpec(cls, box, body, colour, speckle, tuple(parts), primary)


def _side(rng: np.random.Generator, size: int, low: int, high: int) -> tuple[int, int]:
    """(width, height) in pixels: side ~ U[low, high] % of the image, aspect 0.75-1.33."""
    w = int(rng.integers(low * size, high * size + 1)) // 100
    h = w * int(rng.integers(75, 134)) // 100
    return max(w, 24), int(np.clip(h, 24, size - 4))


def _boxes(rng: np.random.Generator, size: int, two: bool) -> list[tuple[int, int, int, int]]:
    """Non-overlapping boxes: one large object, or a large and a small one side by side."""
    if not two:
        w, h = _side(rng, size, 28, 96)
        w = min(w, size - 4)
        x0, y0 = int(rng.integers(2, size - 1 - w)), int(rng.integers(2, size - 1 - h))
        return [(x0, y0, x0 + w, y0 + h)]
    for _ in range(200):
        (w1, h1), (w2, h2) = _side(rng, size, 35, 60), _side(rng, size, 22, 30)
        x1, y1 = int(rng.integers(2, size - 1 - w1)), int(rng.integers(2, size - 1 - h1))
        x2, y2 = int(rng.integers(2, size - 1 - w2)), int(rng.integers(2, size - 1 - h2))
        apart = x2 >= x1 + w1 + 2 or x1 >= x2 + w2 + 2 or y2 >= y1 + h1 + 2 or y1 >= y2 + h2 + 2
        if apart:
            return [(x1, y1, x1 + w1, y1 + h1), (x2, y2, x2 + w2, y2 + h2)]
    raise RuntimeError("could not place two objects; image size too small")


def sample_scene(rng: np.random.Generator, size: int, label: int, two_objects: bool,
                 cue_class: int | None = None, classes: int = len(CLASSES)) -> SceneSpec:
    """Draw every random choice of one image whose primary object has class ``label``."""
    tint = _colour(rng, 60, 190)
    noise_seed = int(rng.integers(0, 2**62))
    lines = tuple(
        (*(int(v) for v in rng.integers(0, size, 4)), int(rng.integers(0, 2)), _colour(rng))
        for _ in range(int(rng.integers(3, 8))))
    blobs = tuple((*(int(v) for v in rng.integers(0, size, 2)), int(rng.integers(2, 7)), _colour(rng))
                  for _ in range(int(rng.integers(2, 6))))
    clutter = tuple(
        _part(rng, *(int(v) for v in rng.integers(4, size - 4, 2)), int(rng.integers(4, 9)),
              DISTRACTOR_PATTERNS[int(rng.integers(0, len(DISTRACTOR_PATTERNS)))], False)
        for _ in range(int(rng.integers(1, 4))))
    boxes = _boxes(rng, size, two_objects)
    labels = [label]
    if two_objects:
        labels.append(int(rng.choice([c for c in range(classes) if c != label])))
    objects = tuple(sample_object(rng, size, cls, box, index == 0)
                    for index, (cls, box) in enumerate(zip(labels, boxes, strict=True)))
    cue = None
    if cue_class is not None:  # a corner that no body touches, when there is one
        cue_size = max(size // 9, 6)
        bodies = np.zeros((size, size), dtype=bool)
        for obj in objects:
            bodies |= body_mask(size, obj.body, obj.box)
        free = [c for c in range(4) if not _box_hits(bodies, cue_box(size, Cue(0, c, cue_size)))]
        corners = free or [0, 1, 2, 3]
        cue = Cue(int(cue_class), corners[int(rng.integers(0, len(corners)))], cue_size)
    return SceneSpec(size, tint, noise_seed, lines, blobs, clutter, objects, cue)


def _box_hits(mask: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    x0, y0, x1, y1 = box
    return bool(mask[y0:y1, x0:x1].any())


# --- painting -------------------------------------------------------------------------------


def _paint_part(canvas: np.ndarray, part: Part, size: int) -> np.ndarray:
    disc = disc_mask(size, part.cx, part.cy, part.r)
    fg = pattern_mask(size, part.pattern, part.cx, part.cy)
    canvas[disc & fg] = part.fg
    canvas[disc & ~fg] = part.bg
    return disc


def _paint_line(canvas: np.ndarray, line: tuple[int, int, int, int, int, RGB], size: int) -> None:
    x0, y0, x1, y1, half, colour = line
    steps = max(abs(x1 - x0), abs(y1 - y0), 1)
    t = np.arange(steps + 1, dtype=np.int64)
    xs = x0 + ((x1 - x0) * t) // steps  # exact integer DDA
    ys = y0 + ((y1 - y0) * t) // steps
    for ox in range(-half, half + 1):
        for oy in range(-half, half + 1):
            canvas[np.clip(ys + oy, 0, size - 1), np.clip(xs + ox, 0, size - 1)] = colour


def paint(spec: SceneSpec, omit_evidence: bool = False, omit_parts: frozenset[tuple[int, int]] = frozenset(),
          omit_cue: bool = False, cue_class: int | None = None) -> Painted:
    """Pixels and masks of ``spec``; ``omit_*`` leave things out (the interventions).

    ``omit_evidence`` removes every object's evidence part, ``omit_parts`` the parts
    ``(object index, part index)`` (the body's own texture shows through), ``omit_cue`` the
    bias cue, and ``cue_class`` repaints the cue in another class's colour. Masks describe
    what is painted: an omitted evidence part has an empty evidence mask.
    """
    size = spec.size
    noise = np.random.default_rng(spec.noise_seed)
    canvas = np.empty((size, size, 3), dtype=np.int64)
    canvas[:] = spec.tint
    canvas += noise.integers(-20, 21, (size, size, 3))
    for line in spec.lines:
        _paint_line(canvas, line, size)
    for cx, cy, r, colour in spec.blobs:
        canvas[disc_mask(size, cx, cy, r)] = colour
    for part in spec.clutter:
        _paint_part(canvas, part, size)
    object_masks, evidence_masks, part_masks = [], [], []
    for index, obj in enumerate(spec.objects):
        body = body_mask(size, obj.body, obj.box)
        speckle = noise.integers(-obj.speckle, obj.speckle + 1, (size, size, 3))
        canvas[body] = (np.asarray(obj.colour, dtype=np.int64) + speckle)[body]
        evidence = np.zeros((size, size), dtype=bool)
        discs = []
        for p, part in enumerate(obj.parts):
            if (part.evidence and omit_evidence) or (index, p) in omit_parts:
                discs.append(np.zeros((size, size), dtype=bool))
                continue
            disc = _paint_part(canvas, part, size)
            discs.append(disc)
            if part.evidence:
                evidence |= disc
        object_masks.append(body)
        evidence_masks.append(evidence & body)
        part_masks.append(discs)
    cue_mask = None
    if spec.cue is not None and not omit_cue:
        cue = spec.cue if cue_class is None else replace(spec.cue, cls=int(cue_class))
        x0, y0, x1, y1 = cue_box(size, cue)
        cue_mask = np.zeros((size, size), dtype=bool)
        cue_mask[y0:y1, x0:x1] = True
        canvas[cue_mask] = CUE_COLOURS[cue.cls]
        for mask in object_masks + evidence_masks:
            mask &= ~cue_mask
    return Painted(np.clip(canvas, 0, 255).astype(np.uint8), object_masks, evidence_masks,
                   cue_mask, part_masks)
