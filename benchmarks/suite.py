"""What a suite's metrics cost per map, against the peers' implementations in one process.

Part ``metrics`` (this file's default): every case below runs once per round on the same
maps, rounds interleaved (a burst of load from elsewhere slows one round, not one case),
and the table reports the median over rounds after a warm-up round:

- map-only metrics on 224x224 maps (a Grad-CAM-like map: ReLU of a random 7x7 grid
  upsampled bilinearly, as layer4 maps are; the object box/mask fixed), per map;
- their peers on the same maps: Quantus 0.6's ``PointingGame`` and
  ``RelevanceMassAccuracy`` (called on a batch, cost per map), and MaxBoxAcc computed the
  way wsolevaluation does — an OpenCV contour trace of the uint8 map at every threshold
  (our code for their loop) — plus our own former per-threshold ``scipy.ndimage.label``
  loop (``tests/metrics/reference_boxes.py``);
- deletion + insertion (RISE) and their peer torchcam 0.5's ``DeletionInsertionMetric``
  with the same number of points, and Quantus' ``RegionPerturbation`` with as many
  perturbed forwards as our deletion, on one model (``--model``, random weights);
  the floor is the forwards they need: ``points x`` one forward of the image batch.

Peers that are not installed are left out with a note (``make setup`` installs them).
Goals (issue 9): MaxBoxAcc <= 2 ms per 224x224 map at 100 thresholds; every metric faster
than its peer.

Part ``end-to-end`` (``--part end-to-end``, or ``all``): whole suite runs — the demo suite
and ResNet-50 at 224 px x {gradcam, guided_backprop, occlusion} x every metric — with
images/s, the shares of explain / metrics / database / report and ms per map of each
metric (``benchmarks/suite_e2e.py``).

Run ``python benchmarks/suite.py --help`` for the options (default: ~3 minutes on two
shared cores).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torchvision

from xai_eval.metrics.faithfulness import deletion_aucs, insertion_aucs
from xai_eval.metrics.localization import localization_correct
from xai_eval.metrics.masks import mask_overlap
from xai_eval.metrics.pointing import energy_in_region, pointing_hit
from xai_eval.metrics.shapes import normalize_map
from xai_eval.metrics.wsol import (
    best_ious_per_threshold,
    pixel_histograms,
    pixel_levels,
    threshold_grid,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import suite_e2e  # noqa: E402  (the end-to-end part, next to this file)

SIZE = 224
GT_BOX = np.array([[40.0, 60.0, 170.0, 200.0]])


@dataclass
class Case:
    """One timed callable (cost of ``per`` maps per call) and its round times."""

    name: str
    run: Callable[[], object]
    per: int = 1
    note: str = ""
    peer_of: str = ""  # the name of our case this peer is compared with
    times: list[float] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Median seconds per map."""
        return statistics.median(self.times) / self.per


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Per-map cost of every metric against Quantus, torchcam and a "
                    "wsolevaluation-style OpenCV loop, in one process; prints ratios.")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--maps", type=int, default=8,
                        help="maps per round for the map-only metrics (default 8)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--model", default="resnet18",
                        help="torchvision model for the perturbation metrics, random weights "
                             "(default resnet18)")
    parser.add_argument("--points", type=int, default=16,
                        help="deletion/insertion steps; each curve has points+1 forwards "
                             "(default 16)")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="perturbed images per forward (default 32)")
    parser.add_argument("--skip-model-metrics", action="store_true",
                        help="time only the map-only metrics")
    parser.add_argument("--part", choices=("metrics", "end-to-end", "all"), default="metrics",
                        help="per-map metric costs vs peers (default), whole suite runs, or both")
    suite_e2e.add_arguments(parser)
    return parser.parse_args()


def gradcam_like_maps(count: int, seed: int = 0) -> list[np.ndarray]:
    """ReLU of random 7x7 grids upsampled to 224x224 (layer4 Grad-CAM's geometry)."""
    generator = torch.Generator().manual_seed(seed)
    grids = torch.randn(count, 1, 7, 7, generator=generator)
    up = torch.nn.functional.interpolate(grids, size=(SIZE, SIZE), mode="bilinear",
                                         align_corners=False)
    return [m[0].clamp(min=0).double().numpy() for m in up]


def opencv_max_box_ious(saliency: np.ndarray, gt: np.ndarray, thresholds: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """MaxBoxAcc's per-threshold IoUs as wsolevaluation computes them: the map scaled to
    uint8, then at every threshold an OpenCV binary threshold, a contour trace, one
    bounding rectangle per contour (all for V2, the largest-area contour for V1)."""
    import cv2

    normalized = normalize_map(saliency, "minmax")
    image = (normalized * 255).astype(np.uint8)
    best_all = np.zeros(len(thresholds))
    best_largest = np.zeros(len(thresholds))
    for index, tau in enumerate(thresholds):
        _, binary = cv2.threshold(image, int(tau * 255), 255, cv2.THRESH_BINARY)
        contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
        if not contours:
            continue
        rects = np.array([cv2.boundingRect(c) for c in contours], dtype=np.float64)
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
        ious = _iou(boxes, gt).max(axis=1)
        best_all[index] = ious.max()
        best_largest[index] = ious[int(np.argmax([cv2.contourArea(c) for c in contours]))]
    return best_all, best_largest


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter)


def map_cases(maps: list[np.ndarray], mask: np.ndarray) -> list[Case]:
    """Our map-only metrics and their peers on the same maps."""
    grid = threshold_grid(0.01)
    levels = pixel_levels(grid)
    topk = np.stack(maps[:5])
    n = len(maps)

    def each(fn: Callable[[np.ndarray], object]) -> Callable[[], object]:
        return lambda: [fn(m) for m in maps]

    cases = [
        Case("ours:pointing_game", each(lambda m: pointing_hit(m, mask, 1, "any")), n,
             "tolerance 1 px, tie 'any' (Quantus' rule)"),
        Case("ours:energy_pointing_game", each(lambda m: energy_in_region(m, mask)), n,
             "mass inside the mask"),
        Case("ours:max_box_acc", each(lambda m: best_ious_per_threshold(m, GT_BOX, grid)), n,
             f"{len(grid)} thresholds, V1 + V2, 8-connected"),
        Case("ours:localization_error", each(lambda m: localization_correct(
            1, GT_BOX, m, [1, 2, 3, 4, 5], topk)), n, "GT-known + top-1/top-5 boxes"),
        Case("ours:pxap", each(lambda m: pixel_histograms(m, mask, levels)), n,
             f"{len(levels)} levels"),
        Case("ours:mask_iou", each(lambda m: mask_overlap(m, mask)), n, "threshold 0.5"),
    ]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "metrics"))
    from reference_boxes import reference_best_ious

    cases.append(Case("before:max_box_acc (scipy label per threshold)",
                      each(lambda m: reference_best_ious(m, GT_BOX, grid)), n,
                      "the code the component tree replaced", peer_of="ours:max_box_acc"))
    try:
        import cv2  # noqa: F401

        cases.append(Case("wsolevaluation-style:max_box_acc (OpenCV contours)",
                          each(lambda m: opencv_max_box_ious(m, GT_BOX, grid)), n,
                          "uint8 map, cv2.findContours per threshold",
                          peer_of="ours:max_box_acc"))
    except ImportError:
        print("note: OpenCV is not installed; the wsolevaluation-style loop is left out")
    cases.extend(quantus_map_cases(maps, mask))
    return cases


def quantus_map_cases(maps: list[np.ndarray], mask: np.ndarray) -> list[Case]:
    """Quantus' pointing game and relevance mass accuracy on the same maps (one batch)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import quantus
    except ImportError:
        print("note: Quantus is not installed; its cases are left out")
        return []
    n = len(maps)
    a_batch = np.stack(maps)[:, None].astype(np.float32)
    s_batch = np.broadcast_to(mask[None, None], a_batch.shape).astype(np.float32)
    x_batch = np.zeros((n, 3, SIZE, SIZE), dtype=np.float32)
    y_batch = np.ones(n, dtype=np.int64)
    options = dict(disable_warnings=True, display_progressbar=False)
    pointing = quantus.PointingGame(**options)
    mass = quantus.RelevanceMassAccuracy(**options)

    def call(metric: object) -> Callable[[], object]:
        def run() -> object:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return metric(model=None, x_batch=x_batch, y_batch=y_batch, a_batch=a_batch,
                              s_batch=s_batch)
        return run

    return [Case("quantus:PointingGame", call(pointing), n, "batch call",
                 peer_of="ours:pointing_game"),
            Case("quantus:RelevanceMassAccuracy", call(mass), n, "batch call",
                 peer_of="ours:energy_pointing_game")]


def model_cases(args: argparse.Namespace, maps: list[np.ndarray]) -> tuple[list[Case], float]:
    """Deletion + insertion and their peers on one model; also the forward floor."""
    model = torchvision.models.get_model(args.model, weights=None).eval()
    n = 2
    images = torch.randn(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    targets = [1, 2]
    sal = [torch.from_numpy(m).float() for m in maps[:n]]
    step = -(-SIZE * SIZE // args.points)  # points steps: points + 1 forwards per curve
    forwards = args.points + 1

    def floor() -> object:
        with torch.no_grad():
            return model(images)

    ours = Case("ours:deletion+insertion",
                lambda: (deletion_aucs(model, images, targets, sal, step,
                                       batch_size=args.batch_size),
                         insertion_aucs(model, images, targets, sal, step,
                                        batch_size=args.batch_size)),
                n, f"2 x {forwards} forwards per map (+ blur)")
    cases = [Case("floor:forward", floor, n, "one forward per image, no_grad"), ours]
    try:
        import torchcam.metrics as torchcam_metrics
    except ImportError:
        print("note: torchcam is not installed; its case is left out")
    else:
        cases.append(Case("torchcam:DeletionInsertionMetric",
                          torchcam_case(torchcam_metrics, model, images, targets, sal, args), n,
                          f"steps={args.points}: {2 * args.points} forwards per map",
                          peer_of="ours:deletion+insertion"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import quantus
    except ImportError:
        print("note: Quantus is not installed; RegionPerturbation is left out")
    else:
        region = quantus.RegionPerturbation(patch_size=14, regions_evaluation=args.points,
                                            disable_warnings=True, display_progressbar=False)
        x_batch, a_batch = images.numpy(), torch.stack(sal)[:, None].numpy()

        def run_region() -> object:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return region(model=model, x_batch=x_batch, y_batch=np.array(targets),
                              a_batch=a_batch, device="cpu", batch_size=args.batch_size)

        ours_deletion = Case("ours:deletion", lambda: deletion_aucs(
            model, images, targets, sal, step, batch_size=args.batch_size), n,
            f"{forwards} forwards per map")
        cases += [ours_deletion,
                  Case("quantus:RegionPerturbation", run_region, n,
                       f"{args.points} 14x14 regions: {forwards} forwards per map",
                       peer_of="ours:deletion")]
    return cases, forwards


def torchcam_case(torchcam_metrics, model, images, targets, sal, args) -> Callable[[], object]:
    """torchcam's metric on our maps: a stand-in CAM extractor that returns them."""
    import contextlib

    maps = torch.stack(sal)

    class GivenMaps:
        """The CAM-extractor interface torchcam's metric calls, returning fixed maps."""

        def __init__(self) -> None:
            self.model = model

        def __call__(self, class_idx=None, scores=None, normalized=True, **kwargs):
            return [maps[:, None]]

        def fuse_cams(self, cams):
            return cams[0][:, 0]

        def _hooks_off(self):
            return contextlib.nullcontext()

    metric = torchcam_metrics.DeletionInsertionMetric(
        GivenMaps(), lambda logits: torch.softmax(logits, -1), steps=args.points,
        batch_size=args.batch_size)

    def run() -> object:
        metric.reset()
        metric.update(images, class_idx=list(targets))
        return metric.summary()

    return run


def run_rounds(cases: list[Case], rounds: int) -> None:
    """One warm-up round, then ``rounds`` timed rounds, each case once per round."""
    for round_index in range(rounds + 1):
        for case in cases:
            start = time.perf_counter()
            case.run()
            if round_index:
                case.times.append(time.perf_counter() - start)


def report(cases: list[Case], forwards: float | None) -> None:
    by_name = {c.name: c for c in cases}
    width = max(len(c.name) for c in cases)
    print(f"{'case':<{width}}  {'ms/map':>9}  {'vs ours':>8}  note")
    print("-" * (width + 60))
    floor = by_name.get("floor:forward")
    for case in cases:
        ratio = ""
        if case.peer_of in by_name:
            ratio = f"{case.seconds / by_name[case.peer_of].seconds:7.1f}x"
        note = case.note
        if floor is not None and case.name in ("ours:deletion+insertion", "ours:deletion"):
            floors = forwards * (2 if "insertion" in case.name else 1)
            note += f"; {case.seconds / (floors * floor.seconds):.2f}x its forward floor"
        print(f"{case.name:<{width}}  {case.seconds * 1e3:>9.2f}  {ratio:>8}  {note}")
    print("\n'vs ours' = the peer's time / ours on the same maps (above 1: ours is faster)")


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    if args.part in ("end-to-end", "all"):
        suite_e2e.main(args)
        if args.part == "end-to-end":
            return
    maps = gradcam_like_maps(max(args.maps, 5))
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[60:200, 40:170] = True
    cases = map_cases(maps, mask)
    forwards = None
    if not args.skip_model_metrics:
        more, forwards = model_cases(args, maps)
        cases += more
    run_rounds(cases, args.rounds)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of "
          f"{args.rounds} rounds; maps 224x224; model {args.model} (weights=None)\n")
    report(cases, forwards)


if __name__ == "__main__":
    main()
