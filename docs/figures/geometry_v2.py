"""The embedded benchmarks' geometry against ILSVRC's: statistics table + histogram figure.

    python docs/figures/geometry_v2.py                       # writes docs/figures/geometry_v2.png
    python docs/figures/geometry_v2.py --ilsvrc /data/ILSVRC  # adds ILSVRC val's own histogram

Per test image it takes the primary object's ground-truth box (the box the localization
error is scored against) and reports (a) its area as a fraction of the image and (b) its
extent in target-map cells (sqrt(box area) / map stride). ILSVRC's reference is the
published average object scale of the ILSVRC 2012 localization data (0.358, the ImageNet
2012 challenge analysis; PASCAL 0.241) under VGG-16's 14x14 conv5 map at 224 px; with
``--ilsvrc`` the script reads the validation XML boxes with the ``ilsvrc`` adapter and
plots their histogram too (nothing is downloaded).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

ILSVRC_MEAN_SCALE = 0.358  # ImageNet 2012 analysis, "average object scale" (box area / image area)
VGG16_MAP, VGG16_INPUT = 14, 224


def v1_stats(count: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Primary-box area fractions and extents in cells of v1 (64 px, 8x8 map)."""
    from xai_eval.data.coco import CocoDataset
    from xai_eval.data.embedded import GeneratorConfig, generate_embedded_dataset

    with tempfile.TemporaryDirectory() as tmp:
        root = generate_embedded_dataset(tmp, GeneratorConfig(train=1, val=1, test=count), progress=False)
        ds = CocoDataset(root, split="test", masks=False)
        areas = []
        for item in ds:
            label = ds.item_label(item)
            x0, y0, x1, y1 = next(a.box for a in item.annotations if a.class_id == label)
            areas.append((x1 - x0) * (y1 - y0) / (item.width * item.height))
    fraction = np.array(areas)
    return fraction, np.sqrt(fraction) * 8, 8


def v2_stats(count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Primary-box and evidence-box area fractions and extents of v2 (112 px, 14x14 map)."""
    from xai_eval.data.embedded_v2 import GeneratorConfigV2, scene
    from xai_eval.data.scene_v2 import paint

    config = GeneratorConfigV2()
    fractions, evidence = [], []
    for i in range(count):
        _, spec = scene(config, "test", i)
        painted = paint(spec)
        for mask, store in ((painted.object_masks[0], fractions), (painted.evidence_masks[0], evidence)):
            rows, cols = np.nonzero(mask)
            store.append((cols.max() + 1 - cols.min()) * (rows.max() + 1 - rows.min()) / spec.size ** 2)
    fraction = np.array(fractions)
    return fraction, np.sqrt(fraction) * 14, np.array(evidence), 14


def ilsvrc_stats(root: str) -> np.ndarray:
    from xai_eval.data.ilsvrc import IlsvrcDataset

    ds = IlsvrcDataset(root)
    out = []
    for item in ds:
        for a in item.annotations:
            out.append((a.box[2] - a.box[0]) * (a.box[3] - a.box[1]) / (item.width * item.height))
    return np.array(out)


def describe(name: str, fraction: np.ndarray, cells: np.ndarray | None, side: int | None) -> str:
    q = np.percentile(fraction, [10, 25, 50, 75, 90])
    cell = "" if cells is None else f"{np.median(cells):.1f} ({np.percentile(cells, 10):.1f}-{np.percentile(cells, 90):.1f})"
    grid = "" if side is None else f"{side}x{side}"
    return (f"| {name} | {grid} | {fraction.mean():.3f} | {q[2]:.3f} | {q[0]:.3f} / {q[1]:.3f} / "
            f"{q[3]:.3f} / {q[4]:.3f} | {cell} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="test images per benchmark (default 500)")
    parser.add_argument("--ilsvrc", default=None, help="ILSVRC root (CLS-LOC val XML) for its histogram")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("geometry_v2.png"))
    args = parser.parse_args()
    v1_fraction, v1_cells, v1_side = v1_stats(args.count)
    v2_fraction, v2_cells, evidence, v2_side = v2_stats(args.count)
    print("| data | map | mean box area / image | median | p10 / p25 / p75 / p90 | "
          "median extent in map cells (p10-p90) |")
    print("|---|---|---|---|---|---|")
    print(describe("v1 test (64 px)", v1_fraction, v1_cells, v1_side))
    print(describe("v2 test (112 px)", v2_fraction, v2_cells, v2_side))
    print(describe("v2 evidence part", evidence, np.sqrt(evidence) * 14, v2_side))
    print(f"| ILSVRC 2012 (published mean) | {VGG16_MAP}x{VGG16_MAP} (VGG-16) | {ILSVRC_MEAN_SCALE:.3f} |"
          f"  |  | {np.sqrt(ILSVRC_MEAN_SCALE) * VGG16_MAP:.1f} (of the mean) |")
    real = ilsvrc_stats(args.ilsvrc) if args.ilsvrc else None
    if real is not None:
        print(describe("ILSVRC val (read)", real, np.sqrt(real) * VGG16_MAP, VGG16_MAP))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    bins = np.linspace(0, 1, 21)
    left.hist(v1_fraction, bins, alpha=0.5, density=True, label="v1 (64 px)")
    left.hist(v2_fraction, bins, alpha=0.5, density=True, label="v2 (112 px)")
    if real is not None:
        left.hist(real, bins, histtype="step", density=True, color="k", label="ILSVRC val")
    left.axvline(ILSVRC_MEAN_SCALE, color="k", ls="--", label="ILSVRC mean 0.358")
    left.set_xlabel("primary box area / image area")
    left.legend(fontsize=8)
    cbins = np.linspace(0, 14, 29)
    right.hist(v1_cells, cbins, alpha=0.5, density=True, label="v1: 8x8 map")
    right.hist(v2_cells, cbins, alpha=0.5, density=True, label="v2: 14x14 map")
    right.axvline(np.sqrt(ILSVRC_MEAN_SCALE) * VGG16_MAP, color="k", ls="--",
                  label="ILSVRC mean box, VGG-16 14x14")
    right.set_xlabel("sqrt(box area) in target-map cells")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
