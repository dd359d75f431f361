"""Per-image cost of every metric against the cost of the explanation it scores.

Measured in one process: a Grad-CAM explanation of a ResNet-50 (``weights=None``, batch 1,
CPU, 224x224) is the reference; each metric's functional form is then timed on that
224x224 map with a ground-truth box and mask. Map-only metrics (pointing game, boxes,
MaxBoxAcc, PxAP, IoU, rank correlation, SSIM) must be a small fraction of the explanation.
Model-bound metrics (deletion, insertion, occlusion correlation, sanity check) run the
model by definition; their cost is reported with the number of forward passes, so the
ratio reads as "forwards x forward time", not as overhead.

Run ``python benchmarks/metrics.py --help`` for the options; the table prints the median
of ``--repeats`` timings after a warm-up.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torchvision

import xai_eval
from xai_eval.metrics.faithfulness import (
    deletion_auc,
    insertion_auc,
    occlusion_map,
    rank_correlation,
)
from xai_eval.metrics.localization import localization_correct
from xai_eval.metrics.masks import mask_iou
from xai_eval.metrics.pointing import energy_in_region, pointing_hit
from xai_eval.metrics.sanity import map_similarity, randomize_model
from xai_eval.metrics.wsol import (
    best_ious_per_threshold,
    pixel_histograms,
    pixel_levels,
    threshold_grid,
)

SIZE = 224


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time each metric per 224x224 image against a ResNet-50 Grad-CAM explanation "
                    "(weights=None, batch 1, CPU) in the same process; print the table and ratios.")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed runs per measurement; the median is reported (default 5)")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch intra-op threads (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the image and maps")
    parser.add_argument("--threshold-step", type=float, default=0.01,
                        help="MaxBoxAcc / PxAP threshold step (default 0.01: 100 thresholds)")
    parser.add_argument("--deletion-step", type=int, default=224 * 14,
                        help="pixels per deletion/insertion step (default 3136: 16 steps, 17 "
                             "forwards; RISE's 224 means 225 forwards)")
    parser.add_argument("--occlusion-patch", type=int, default=32, help="occlusion patch size")
    parser.add_argument("--occlusion-stride", type=int, default=32, help="occlusion stride")
    parser.add_argument("--batch-size", type=int, default=16,
                        help="internal batch size of the model-bound metrics (default 16)")
    parser.add_argument("--skip-model-metrics", action="store_true",
                        help="time only the map-only metrics")
    return parser.parse_args()


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    model = torchvision.models.get_model("resnet50", weights=None).eval()
    image = torch.randn(1, 3, SIZE, SIZE)
    explainer = xai_eval.get_explainer("gradcam", model, target_layer="layer4")
    target = torch.tensor([1])
    reference = median_seconds(lambda: explainer(image, target), args.repeats)
    saliency = explainer(image, target)[0]
    if float(saliency.max()) == float(saliency.min()):
        # untrained weights usually give an all-zero Grad-CAM; score a Grad-CAM-like map
        # instead: ReLU of a random 7x7 grid upsampled bilinearly, as layer4 maps are
        grid7 = torch.randn(1, 1, 7, 7, generator=torch.Generator().manual_seed(args.seed))
        saliency = torch.nn.functional.interpolate(grid7, size=(SIZE, SIZE), mode="bilinear",
                                                   align_corners=False)[0, 0].clamp(min=0)
    sal = saliency.numpy().astype(np.float64)
    noise = rng.random((SIZE, SIZE))  # worst case for connected components (gradient-like)

    gt_box = [[40.0, 60.0, 170.0, 200.0]]
    gt_mask = np.zeros((SIZE, SIZE), dtype=bool)
    gt_mask[60:200, 40:170] = True
    other = rng.random((SIZE, SIZE))
    topk = np.stack([sal] + [rng.random((SIZE, SIZE)) for _ in range(4)])
    grid = threshold_grid(args.threshold_step)
    levels = pixel_levels(grid)

    rows: list[tuple[str, float, str]] = []
    map_metrics: dict[str, Callable[[], object]] = {
        "pointing_game (pointing_hit)": lambda: pointing_hit(sal, gt_mask),
        "energy_pointing_game": lambda: energy_in_region(sal, gt_boxes=gt_box),
        "localization_error (top-1/5 + GT-known)": lambda: localization_correct(
            1, gt_box, sal, [1, 2, 3, 4, 5], topk),
        f"max_box_acc ({len(grid)} thresholds)": lambda: best_ious_per_threshold(sal, gt_box, grid),
        "max_box_acc, i.i.d. noise map (worst case)": lambda: best_ious_per_threshold(
            noise, gt_box, grid),
        f"pxap ({len(levels)} levels)": lambda: pixel_histograms(sal, gt_mask, levels),
        "mask_iou": lambda: mask_iou(sal, gt_mask, 0.5),
        "rank correlation (Spearman)": lambda: rank_correlation(sal, other),
        "sanity similarity (Spearman + SSIM)": lambda: map_similarity(sal, other),
    }
    for name, fn in map_metrics.items():
        rows.append((name, median_seconds(fn, args.repeats), "map only"))

    if not args.skip_model_metrics:
        img = image[0]
        n_del = -(-SIZE * SIZE // args.deletion_step) + 1
        positions = len(range(0, SIZE - args.occlusion_patch + 1, args.occlusion_stride)) ** 2
        clone = randomize_model(model, "all", seed=args.seed)
        random_explainer = xai_eval.get_explainer("gradcam", clone, target_layer="layer4")
        model_metrics: dict[str, tuple[Callable[[], object], str]] = {
            "deletion": (lambda: deletion_auc(model, img, 1, sal, args.deletion_step,
                                              batch_size=args.batch_size),
                         f"{n_del} forwards"),
            "insertion": (lambda: insertion_auc(model, img, 1, sal, args.deletion_step,
                                                batch_size=args.batch_size),
                          f"{n_del} forwards + blur"),
            "occlusion_correlation": (lambda: rank_correlation(sal, occlusion_map(
                model, img, 1, args.occlusion_patch, args.occlusion_stride,
                batch_size=args.batch_size)), f"~{positions + 1} forwards"),
            "sanity_randomization (cached copy)": (
                lambda: map_similarity(sal, random_explainer(image, target)[0]),
                "1 Grad-CAM on the random copy"),
        }
        for name, (fn, note) in model_metrics.items():
            rows.append((name, median_seconds(fn, max(1, args.repeats // 2)), note))
        start = time.perf_counter()
        randomize_model(model, "all", seed=args.seed)
        rows.append(("  (one-off: randomize_model ResNet-50)", time.perf_counter() - start,
                     "per model, not per image"))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of "
          f"{args.repeats} runs")
    print(f"reference: Grad-CAM ResNet-50 (weights=None), batch 1, CPU, 224x224: "
          f"{reference * 1e3:.1f} ms\n")
    width = max(len(name) for name, _, _ in rows)
    print(f"{'metric':<{width}}  {'ms/image':>9}  {'x Grad-CAM':>10}  note")
    print("-" * (width + 40))
    for name, seconds, note in rows:
        print(f"{name:<{width}}  {seconds * 1e3:>9.2f}  {seconds / reference:>10.3f}  {note}")
    total = sum(s for _, s, note in rows if note == "map only")
    print(f"\nall map-only metrics together: {total * 1e3:.1f} ms/image = "
          f"{total / reference:.3f} x the explanation")


if __name__ == "__main__":
    main()
