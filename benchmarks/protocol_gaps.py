"""How large is each deliberate difference from the reference code? (docs/metrics.md)

Not a timing benchmark: it measures, on seeded synthetic maps, the size of the protocol
differences docs/metrics.md names, so the numbers there can be reproduced:

1. "largest component": pixel count (ours) vs ``cv2.contourArea`` of the outer contour
   (wsolevaluation) — how often the chosen box differs, and the IoU between the choices;
2. RISE's blur kernel: ``scipy.ndimage.gaussian_filter`` of an 11x11 delta (reflect mode
   folds the tails back in) vs torchvision's truncated, renormalised 11x11 Gaussian;
3. void/ignore pixels counted as background vs left out: mask IoU and PxAP on maps whose
   mass spills onto a void band around the object;
4. pointing-game ties: exact equality vs the 1e-6 relative tie tolerance on bilinearly
   upsampled float32 maps.

    python benchmarks/protocol_gaps.py --maps 300 --seed 0
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from xai_eval.metrics.boxes import box_iou, component_boxes
from xai_eval.metrics.masks import mask_overlap
from xai_eval.metrics.pointing import pointing_hit
from xai_eval.metrics.wsol import (
    pixel_histograms,
    pixel_levels,
    pxap_from_histograms,
    threshold_grid,
)


def blob_map(rng: np.random.Generator, size: int = 112, peaks: int = 4) -> np.ndarray:
    """A sum of random anisotropic Gaussian blobs (several comparable components)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    out = np.zeros((size, size))
    for _ in range(peaks):
        cy, cx = rng.uniform(0, size, 2)
        sy, sx = rng.uniform(2, 14, 2)
        out += rng.uniform(0.5, 1.0) * np.exp(-((yy - cy) ** 2 / (2 * sy ** 2)
                                                 + (xx - cx) ** 2 / (2 * sx ** 2)))
    return out


def largest_component_difference(maps: list[np.ndarray], threshold: float) -> dict[str, float]:
    import cv2

    differ, ious = 0, []
    for sal in maps:
        binary = sal / sal.max() >= threshold
        boxes, sizes = component_boxes(binary)
        if len(boxes) < 2:
            ious.append(1.0)
            continue
        ours = boxes[int(np.argmax(sizes))]
        contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        best = max(contours, key=cv2.contourArea)
        x, y, w, h = cv2.boundingRect(best)
        theirs = np.array([x, y, x + w, y + h], dtype=float)
        iou = float(box_iou(ours[None], theirs[None])[0, 0])
        differ += iou < 1.0
        ious.append(iou)
    return {"differ_fraction": differ / len(maps), "mean_iou_between_choices": float(np.mean(ious))}


def rise_kernel_difference(klen: int = 11, sigma: float = 5.0) -> dict[str, float]:
    from torchvision.transforms.functional import gaussian_blur

    delta = np.zeros((klen, klen))
    delta[klen // 2, klen // 2] = 1.0
    folded = ndimage.gaussian_filter(delta, sigma)  # RISE's gkern (reflect mode)
    impulse = torch.zeros(1, 1, klen * 3, klen * 3, dtype=torch.float64)
    impulse[0, 0, klen * 3 // 2, klen * 3 // 2] = 1.0
    ours = gaussian_blur(impulse, [klen, klen], [sigma, sigma])[0, 0].numpy()
    c = klen * 3 // 2
    ours = ours[c - klen // 2:c + klen // 2 + 1, c - klen // 2:c + klen // 2 + 1]
    return {"folded_sum": float(folded.sum()), "ours_sum": float(ours.sum()),
            "max_abs_weight_difference": float(np.abs(folded - ours).max()),
            "centre_weight_folded": float(folded[klen // 2, klen // 2]),
            "centre_weight_ours": float(ours[klen // 2, klen // 2])}


def void_difference(rng: np.random.Generator, count: int, size: int = 64,
                    band: int = 3) -> dict[str, float]:
    levels = pixel_levels(threshold_grid(0.01))
    iou_with, iou_without = [], []
    pos_a = np.zeros(len(levels), np.int64)
    neg_a = np.zeros_like(pos_a)
    pos_b, neg_b = pos_a.copy(), neg_a.copy()
    void_share = []
    for _ in range(count):
        mask = np.zeros((size, size), dtype=bool)
        y0, x0 = rng.integers(8, 24, 2)
        y1, x1 = y0 + rng.integers(16, 32), x0 + rng.integers(16, 32)
        mask[y0:y1, x0:x1] = True
        ring = ndimage.binary_dilation(mask, iterations=band) & ~mask
        void_share.append(ring.mean())
        sal = ndimage.gaussian_filter(mask.astype(float), rng.uniform(2, 5))
        sal += rng.normal(0, 0.02, sal.shape)
        i, u = mask_overlap(sal, mask, 0.5)
        iou_with.append(i / u)
        i, u = mask_overlap(sal, mask, 0.5, ignore_mask=ring)
        iou_without.append(i / u)
        p, n = pixel_histograms(sal, mask, levels)
        pos_a += p
        neg_a += n
        p, n = pixel_histograms(sal, mask, levels, ignore_mask=ring)
        pos_b += p
        neg_b += n
    return {"void_pixel_share": float(np.mean(void_share)),
            "mask_iou_void_as_background": 100 * float(np.mean(iou_with)),
            "mask_iou_void_ignored": 100 * float(np.mean(iou_without)),
            "pxap_void_as_background": 100 * pxap_from_histograms(pos_a, neg_a),
            "pxap_void_ignored": 100 * pxap_from_histograms(pos_b, neg_b)}


def tie_difference(rng: np.random.Generator, count: int) -> dict[str, float]:
    """Upsample 7x7 float32 maps with two exactly equal peaks to 224 and compare rules."""
    changed = 0
    tied_exact, tied_tol = [], []
    for _ in range(count):
        low = rng.random((7, 7)).astype(np.float32)
        r1, c1, r2, c2 = rng.integers(0, 7, 4)
        low[r1, c1] = low[r2, c2] = 1.5
        up = F.interpolate(torch.from_numpy(low)[None, None], size=(224, 224),
                           mode="bilinear", align_corners=False)[0, 0].numpy().astype(np.float64)
        mask = np.zeros((224, 224), dtype=bool)
        rr, cc = (np.array([r1, c1]) * 32 + 16)
        mask[max(rr - 20, 0):rr + 20, max(cc - 20, 0):cc + 20] = True
        exact = pointing_hit(up, mask, tie_tolerance=0.0)
        tol = pointing_hit(up, mask)
        changed += exact != tol
        hi = up.max()
        tied_exact.append(int((up == hi).sum()))
        tied_tol.append(int((up >= hi - 1e-6 * abs(hi)).sum()))
    return {"hit_changed_fraction": changed / count,
            "median_tied_pixels_exact": float(np.median(tied_exact)),
            "median_tied_pixels_tolerance": float(np.median(tied_tol))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--maps", type=int, default=300, help="synthetic maps per measurement")
    parser.add_argument("--seed", type=int, default=0, help="numpy seed")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    maps = [blob_map(rng) for _ in range(args.maps)]
    print("1. largest component, threshold 0.15 / 0.20:")
    for threshold in (0.15, 0.20):
        print(f"   {threshold}: {largest_component_difference(maps, threshold)}")
    print(f"2. RISE blur kernel 11, sigma 5: {rise_kernel_difference()}")
    print(f"3. void band of 3 px: {void_difference(rng, args.maps)}")
    print(f"4. pointing ties: {tie_difference(rng, args.maps)}")


if __name__ == "__main__":
    main()
