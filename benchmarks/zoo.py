"""Rows of ``benchmarks/explainers.py`` for the explainer zoo (issue 12): ratios in one process.

Two groups, each timed interleaved with its floors and peers (median of rounds):

- ``--zoo gradient`` on the main models: the gradient CAMs (Grad-CAM++, XGrad-CAM,
  LayerCAM, HiResCAM) against Grad-CAM's floor (``floor:layer``: forward with autograd
  from the target layer on, one gradient to it); goal <= 1.1x. Integrated Gradients and
  SmoothGrad at K=5 against their own floor: copies x (forward + 5 backward), batched
  as a chunked loop with nothing else in it (``floor:copies_k5``), and Captum called
  once per class (its API takes one target per image).
- ``--zoo perturbation`` on a smaller model (each method costs B x C or B x N forwards):
  Score-CAM, Ablation-CAM and RISE at K=5 against pytorch-grad-cam and torchcam on the
  same masks (the layer's channels), each peer called once per class; goal >= 3x faster.
  Floors: B x C (or B x N) masked forwards without autograd (``floor:masked``), and for
  Ablation-CAM one forward of the batch plus the network *after* the layer run on B x C
  ablated activations (``floor:head``). RISE has no implementation in either peer: only its floor is shown.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

import torch
import torch.nn as nn

import xai_eval

GRADIENT_CAMS = ("gradcam_pp", "xgradcam", "layercam", "hirescam")
STEPS = 16  # IG path points and SmoothGrad samples in the timed rows
CHUNK = 64


def _quiet(fn: Callable[[], object]) -> Callable[[], object]:
    """Run ``fn`` with peers' progress bars and prints swallowed."""
    def run() -> object:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            return fn()
    return run


def floor_copies(model: nn.Module, copies: torch.Tensor, targets: torch.Tensor) -> None:
    """Forward with autograd of every copy (chunks of CHUNK) and one gradient per target column."""
    for start in range(0, copies.shape[0], CHUNK):
        leaf = copies[start:start + CHUNK].detach().requires_grad_(True)
        out = model(leaf)
        cols = targets[start:start + CHUNK]
        for k in range(cols.shape[1]):
            torch.autograd.grad(out.gather(1, cols[:, k:k + 1]).sum(), leaf,
                                retain_graph=k < cols.shape[1] - 1)


def floor_masked(model: nn.Module, x: torch.Tensor, masks: torch.Tensor) -> None:
    """Every (image, mask) product through the model without autograd, CHUNK per pass."""
    n = masks.shape[0]
    with torch.no_grad():
        for start in range(0, x.shape[0] * n, CHUNK):
            rows = torch.arange(start, min(start + CHUNK, x.shape[0] * n))
            model(x[rows // n] * masks[rows % n])


def gradient_cases(model: nn.Module, layer_name: str, x: torch.Tensor, t1: torch.Tensor,
                   t5: torch.Tensor, copies_rows: bool = True) -> dict[str, Callable[[], object]]:
    cases: dict[str, Callable[[], object]] = {}
    for name in ("gradcam", *GRADIENT_CAMS):  # Grad-CAM itself: the same call's overhead
        explainer = xai_eval.get_explainer(name, model, target_layer=layer_name)
        cases[f"ours:{name}"] = lambda e=explainer: e(x, t1)
    if not copies_rows:
        return cases
    ig = xai_eval.get_explainer("integrated_gradients", model, steps=STEPS, batch_size=CHUNK)
    sg = xai_eval.get_explainer("smoothgrad", model, n_samples=STEPS, batch_size=CHUNK)
    copies = x.repeat_interleave(STEPS, 0)
    rows_t5 = t5.repeat_interleave(STEPS, 0)
    cases["ours:integrated_gradients_k5"] = lambda: ig(x, t5)
    cases["ours:smoothgrad_k5"] = lambda: sg(x, t5)
    cases["floor:copies_k5"] = lambda: floor_copies(model, copies, rows_t5)
    try:
        from captum.attr import IntegratedGradients, NoiseTunnel, Saliency
    except ImportError:
        return cases
    cig, nt = IntegratedGradients(model), NoiseTunnel(Saliency(model))
    cases["captum:integrated_gradients_k5"] = lambda: [
        cig.attribute(x, target=col, n_steps=STEPS, method="riemann_right",
                      internal_batch_size=CHUNK) for col in t5.T]
    cases["captum:smoothgrad_k5"] = lambda: [
        nt.attribute(x, nt_type="smoothgrad", nt_samples=STEPS, nt_samples_batch_size=CHUNK,
                     stdevs=0.15, target=col, abs=False) for col in t5.T]
    return cases


def perturbation_cases(model: nn.Module, layer_name: str, x: torch.Tensor, t5: torch.Tensor,
                       n_masks: int) -> dict[str, Callable[[], object]]:
    layer = dict(model.named_modules())[layer_name]
    with torch.no_grad():
        acts = []
        handle = layer.register_forward_hook(lambda _m, _i, o: acts.append(o))
        model(x)
        handle.remove()
    act = acts[0]
    channels = act.shape[1]
    size = tuple(x.shape[-2:])
    layer_masks = torch.nn.functional.interpolate(act[:1].transpose(0, 1), size=size,
                                                  mode="bilinear")  # C masks (cost only)
    head = _head_after(model, layer_name)
    # Score-CAM's rows are full images (CHUNK, like the peers); Ablation-CAM's are copies of
    # the layer's output that only the head processes (its default chunk, 512)
    ours = {"scorecam": xai_eval.get_explainer("scorecam", model, target_layer=layer_name,
                                               batch_size=CHUNK),
            "ablationcam": xai_eval.get_explainer("ablationcam", model, target_layer=layer_name)}
    rise = xai_eval.get_explainer("rise", model, n_masks=n_masks, batch_size=CHUNK)
    rise_masks = rise.masks(size)
    cases: dict[str, Callable[[], object]] = {
        "ours:scorecam_k5": lambda: ours["scorecam"](x, t5),
        "ours:ablationcam_k5": lambda: ours["ablationcam"](x, t5),
        "ours:rise_k5": lambda: rise(x, t5),
        "floor:masked": lambda: floor_masked(model, x, layer_masks),
        "floor:masked_rise": lambda: floor_masked(model, x, rise_masks),
    }
    if head is not None:
        ablated = act.repeat_interleave(channels, 0)

        def floor_head() -> None:
            with torch.no_grad():
                model(x)  # the layer's output has to be computed once
                for start in range(0, ablated.shape[0], CHUNK):
                    head(ablated[start:start + CHUNK])

        cases["floor:head"] = floor_head
    try:
        from pytorch_grad_cam import AblationCAM, ScoreCAM
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        pgc = {"scorecam": ScoreCAM(model=model, target_layers=[layer]),
               "ablationcam": AblationCAM(model=model, target_layers=[layer])}
        pgc["scorecam"].batch_size = CHUNK
        pgc["ablationcam"].batch_size = CHUNK
        for name, cam in pgc.items():
            cases[f"pgc:{name}_k5"] = _quiet(lambda cam=cam: [
                cam(input_tensor=x, targets=[ClassifierOutputTarget(int(c)) for c in col])
                for col in t5.T])
    except ImportError:
        pass
    try:
        from torchcam.methods import ScoreCAM as TorchcamScoreCAM

        def torchcam_scorecam() -> object:
            out = []
            for col in t5.T:
                with TorchcamScoreCAM(model, target_layer=layer_name, batch_size=CHUNK,
                                      input_shape=tuple(x.shape[1:])) as extractor:
                    out.append(extractor(col.tolist(), model(x)))
            return out

        cases["torchcam:scorecam_k5"] = _quiet(torchcam_scorecam)
    except ImportError:
        pass
    return cases


def _head_after(model: nn.Module, layer_name: str) -> nn.Module | None:
    """torchvision ResNet: the modules after ``layer4`` as one callable (else None)."""
    if layer_name == "layer4" and hasattr(model, "avgpool") and hasattr(model, "fc"):
        return nn.Sequential(model.avgpool, nn.Flatten(1), model.fc)
    return None


def zoo_report(med: dict[str, float], group: str) -> list[str]:
    """Rows and goal verdicts for one group's medians."""
    def ms(name: str) -> str:
        return f"{med[name] * 1000:.0f}" if name in med else "-"

    def ratio(a: str, b: str) -> float | None:
        return med[a] / med[b] if a in med and b in med else None

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}x"

    lines, goals = [], []
    if group == "gradient":
        lines.append(f"{'method':<28} {'ours ms':>9} {'floor ms':>9} {'ours/floor':>11} "
                     f"{'captum ms':>10} {'captum/ours':>12}")
        for name in ("gradcam", *GRADIENT_CAMS):
            r = ratio(f"ours:{name}", "floor:layer")
            lines.append(f"{name:<28} {ms('ours:' + name):>9} {ms('floor:layer'):>9} {fmt(r):>11}")
            if name != "gradcam":
                goals.append((f"{name} / floor:layer", r, 1.1, True))
        for name in ("integrated_gradients_k5", "smoothgrad_k5"):
            r = ratio(f"ours:{name}", "floor:copies_k5")
            c = ratio(f"captum:{name}", f"ours:{name}")
            lines.append(f"{name:<28} {ms('ours:' + name):>9} {ms('floor:copies_k5'):>9} "
                         f"{fmt(r):>11} {ms('captum:' + name):>10} {fmt(c):>12}")
    else:
        lines.append(f"{'method (K=5)':<16} {'ours ms':>9} {'floor ms':>9} {'ours/floor':>11} "
                     f"{'pgc ms':>9} {'pgc/ours':>9} {'torchcam ms':>12} {'torchcam/ours':>14}")
        floors = {"scorecam_k5": "floor:masked", "ablationcam_k5": "floor:head",
                  "rise_k5": "floor:masked_rise"}
        for name, floor in floors.items():
            pg, tc = ratio(f"pgc:{name}", f"ours:{name}"), ratio(f"torchcam:{name}", f"ours:{name}")
            lines.append(f"{name:<16} {ms('ours:' + name):>9} {ms(floor):>9} "
                         f"{fmt(ratio(f'ours:{name}', floor)):>11} {ms('pgc:' + name):>9} "
                         f"{fmt(pg):>9} {ms('torchcam:' + name):>12} {fmt(tc):>14}")
            if pg is not None:
                goals.append((f"pytorch-grad-cam {name} / ours", pg, 3.0, False))
            if tc is not None:
                goals.append((f"torchcam {name} / ours", tc, 3.0, False))
    out = ["goals:"]
    for label, value, bound, lower in goals:
        if value is None:
            continue
        ok = value <= bound if lower else value >= bound
        out.append(f"  [{'met' if ok else 'MISSED'}] {label}: {value:.2f} "
                   f"(goal {'<=' if lower else '>='} {bound})")
    return lines + out
