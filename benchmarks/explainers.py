"""Time xai-eval's explainers against the physical floor and against their peers.

For each model (random weights, batch B, S x S input, CPU) every case below runs once per
round, in the same process, in an interleaved order; the table reports the median over the
rounds after warm-up rounds. Interleaving matters on a shared machine: a burst of load from
elsewhere slows every case of one round instead of all repeats of one case.

Floors (the least any implementation must pay):

- ``floor:forward``   one forward pass without autograd (what CAM needs);
- ``floor:layer``     forward with autograd only from the target layer on, plus
                      ``autograd.grad`` to the target layer's activation (Grad-CAM's needs);
- ``floor:input``     forward with autograd plus ``autograd.grad`` to the input
                      (what every gradient method needs).

Peers: pytorch-grad-cam (``pytorch_grad_cam``) and Captum doing the same job: for K=5 classes
they are called once per class, which is how their APIs take several classes.

Goals (issue 2): Grad-CAM <= 1.15x floor:layer and >= 1.5x faster than pytorch-grad-cam;
gradient methods <= 1.15x floor:input; Grad-CAM with K=5 <= 1.5x the cost of K=1.

Run ``python benchmarks/explainers.py --help`` for options; the default run takes about
8-10 minutes on two CPU cores. ``--zoo gradient|perturbation`` times the issue-12 rows
instead (the explainer zoo; see ``benchmarks/zoo.py``).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torchvision

import xai_eval

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import zoo  # noqa: E402  (the issue-12 rows, kept in their own module)

MODELS = {"resnet50": "layer4", "vgg16": "features.29"}
ALL_CASES = (
    "floor:forward", "floor:layer", "floor:input",
    "ours:cam", "ours:gradcam", "ours:gradcam_k5", "ours:backprop", "ours:guided_backprop",
    "ours:deconvnet", "ours:guided_gradcam",
    "pgc:gradcam", "pgc:gradcam_k5", "pgc:guided_backprop",
    "captum:gradcam", "captum:gradcam_k5", "captum:backprop", "captum:guided_backprop",
    "captum:deconvnet", "captum:guided_gradcam",
)


@dataclass
class Case:
    """One timed callable and the seconds each round took."""

    name: str
    run: Callable[[], object]
    times: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")


def floor_layer(model: nn.Module, layer: nn.Module, x: torch.Tensor, targets: torch.Tensor
                ) -> torch.Tensor:
    """Forward without autograd up to ``layer``, then with it; gradient to the activation."""
    store: list[torch.Tensor] = []

    def hook(_m: nn.Module, _i: object, out: torch.Tensor) -> torch.Tensor:
        torch.set_grad_enabled(True)
        leaf = out.detach().requires_grad_(True)
        store.append(leaf)
        return leaf

    handle = layer.register_forward_hook(hook)
    try:
        with torch.no_grad():
            out = model(x)
            score = out.gather(1, targets[:, None]).sum()
            (grad,) = torch.autograd.grad(score, store[0])
    finally:
        handle.remove()
    return grad


def floor_input(model: nn.Module, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Forward with autograd, gradient of the target scores to the input."""
    leaf = x.detach().requires_grad_(True)
    out = model(leaf)
    (grad,) = torch.autograd.grad(out.gather(1, targets[:, None]).sum(), leaf)
    return grad


def floor_forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


def build_cases(model: nn.Module, layer_name: str, x: torch.Tensor, wanted: set[str]
                ) -> list[Case]:
    """Every case for one model; peers that are not installed are left out with a note."""
    layer = dict(model.named_modules())[layer_name]
    batch = x.shape[0]
    gen = torch.Generator().manual_seed(0)
    t1 = torch.randint(0, 1000, (batch,), generator=gen)
    t5 = torch.randint(0, 1000, (batch, 5), generator=gen)
    size = tuple(x.shape[-2:])
    has_gap = layer_name == "layer4"
    ours = {n: xai_eval.get_explainer(n, model, target_layer=layer_name)
            for n in ("gradcam", "guided_gradcam")}
    ours.update({n: xai_eval.get_explainer(n, model)
                 for n in ("backprop", "guided_backprop", "deconvnet")})
    if has_gap:
        ours["cam"] = xai_eval.get_explainer("cam", model, target_layer=layer_name)
    cases: dict[str, Callable[[], object]] = {
        "floor:forward": lambda: floor_forward(model, x),
        "floor:layer": lambda: floor_layer(model, layer, x, t1),
        "floor:input": lambda: floor_input(model, x, t1),
        "ours:gradcam": lambda: ours["gradcam"](x, t1),
        "ours:gradcam_k5": lambda: ours["gradcam"](x, t5),
        "ours:backprop": lambda: ours["backprop"](x, t1),
        "ours:guided_backprop": lambda: ours["guided_backprop"](x, t1),
        "ours:deconvnet": lambda: ours["deconvnet"](x, t1),
        "ours:guided_gradcam": lambda: ours["guided_gradcam"](x, t1),
    }
    if has_gap:
        cases["ours:cam"] = lambda: ours["cam"](x, t1)
    cases.update(_pgc_cases(model, layer, x, t1, t5))
    cases.update(_captum_cases(model, layer, x, t1, t5, size))
    return [Case(n, fn) for n, fn in cases.items() if n in wanted]


def _pgc_cases(model: nn.Module, layer: nn.Module, x: torch.Tensor, t1: torch.Tensor,
               t5: torch.Tensor) -> dict[str, Callable[[], object]]:
    try:
        from pytorch_grad_cam import GradCAM, GuidedBackpropReLUModel
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    except ImportError:
        print("pytorch-grad-cam not installed: its columns stay empty", file=sys.stderr)
        return {}
    cam = GradCAM(model=model, target_layers=[layer])
    # It swaps the model's nn.ReLU modules for new ones on every call (so hooks others put
    # on a ReLU target layer would be lost): give it its own copy.
    guided = GuidedBackpropReLUModel(copy.deepcopy(model), device="cpu")

    def gradcam(columns: torch.Tensor) -> object:
        # One call per class: its API takes one target per image.
        return [cam(input_tensor=x, targets=[ClassifierOutputTarget(int(c)) for c in col])
                for col in columns.T]

    def guided_backprop() -> object:
        # GuidedBackpropReLUModel explains image 0 of its input only: one call per image.
        return [guided(x[i:i + 1].clone(), int(t1[i])) for i in range(x.shape[0])]

    return {
        "pgc:gradcam": lambda: gradcam(t1[:, None]),
        "pgc:gradcam_k5": lambda: gradcam(t5),
        "pgc:guided_backprop": guided_backprop,
    }


def _captum_cases(model: nn.Module, layer: nn.Module, x: torch.Tensor, t1: torch.Tensor,
                  t5: torch.Tensor, size: tuple[int, int]) -> dict[str, Callable[[], object]]:
    try:
        from captum.attr import (
            Deconvolution,
            GuidedBackprop,
            GuidedGradCam,
            LayerAttribution,
            LayerGradCam,
            Saliency,
        )
    except ImportError:
        print("captum not installed: its columns stay empty", file=sys.stderr)
        return {}
    lgc = LayerGradCam(model, layer)

    def gradcam(columns: torch.Tensor) -> object:
        return [LayerAttribution.interpolate(
            lgc.attribute(x, target=col, relu_attributions=True), size, "bilinear")
            for col in columns.T]

    return {
        "captum:gradcam": lambda: gradcam(t1[:, None]),
        "captum:gradcam_k5": lambda: gradcam(t5),
        "captum:backprop": lambda: Saliency(model).attribute(x, target=t1, abs=False),
        "captum:guided_backprop": lambda: GuidedBackprop(model).attribute(x, target=t1),
        "captum:deconvnet": lambda: Deconvolution(model).attribute(x, target=t1),
        "captum:guided_gradcam": lambda: GuidedGradCam(model, layer).attribute(
            x, target=t1, interpolate_mode="bilinear"),
    }


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_interleaved(cases: list[Case], warmup: int, repeats: int, clock: str = "wall") -> None:
    """Run every case once per round; record rounds after the warm-up ones.

    ``clock="cpu"`` measures the process's CPU time: on a machine oversubscribed by other
    jobs it counts the work done, not the time spent waiting for a core (use it with
    ``--threads 1``, where no thread spins waiting for a descheduled sibling).
    """
    now = CLOCKS[clock]
    for round_index in range(warmup + repeats):
        order = cases if round_index % 2 == 0 else list(reversed(cases))
        for case in order:
            start = now()
            case.run()
            elapsed = now() - start
            if round_index >= warmup:
                case.times.append(elapsed)
        print(f"  round {round_index + 1}/{warmup + repeats} done"
              f"{' (warm-up)' if round_index < warmup else ''}", file=sys.stderr, flush=True)


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b != b or a != a:
        return "-"
    return f"{a / b:.2f}x"


def _times(value: float | None, factor: int) -> float | None:
    return None if value is None else value * factor


def _ms(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value * 1000:.0f}"


def report(model_name: str, cases: list[Case]) -> list[str]:
    """Table lines: per method, ours vs its floor and each peer vs ours; goal verdicts."""
    med = {c.name: c.median for c in cases}
    floors = {
        "cam": med.get("floor:forward"),
        "gradcam": med.get("floor:layer"),
        "gradcam_k5": med.get("floor:layer"),
        "backprop": med.get("floor:input"),
        "guided_backprop": med.get("floor:input"),
        "deconvnet": med.get("floor:input"),
        "guided_gradcam": (med["floor:layer"] + med["floor:input"])
        if "floor:layer" in med and "floor:input" in med else None,
    }
    lines = [
        f"\n{model_name}: median of {len(cases[0].times)} interleaved rounds (ms)",
        f"{'method':<16} {'floor ms':>9} {'ours ms':>9} {'ours/floor':>11} "
        f"{'pgc ms':>9} {'pgc/ours':>9} {'captum ms':>10} {'captum/ours':>12}",
    ]
    for method, floor in floors.items():
        ours = med.get(f"ours:{method}")
        if ours is None:
            continue
        pgc, cap = med.get(f"pgc:{method}"), med.get(f"captum:{method}")
        mark = ""
        if method == "gradcam_k5" and pgc is None and cap is None:
            # Peers take one class per call: K=5 costs them five K=1 calls (--peer-k5 times it).
            pgc, cap, mark = _times(med.get("pgc:gradcam"), 5), _times(med.get("captum:gradcam"), 5), "~"
        lines.append(
            f"{method:<16} {_ms(floor):>9} {_ms(ours):>9} {_ratio(ours, floor):>11} "
            f"{mark + _ms(pgc):>9} {mark + _ratio(pgc, ours):>9} {mark + _ms(cap):>10} "
            f"{mark + _ratio(cap, ours):>12}"
        )
    lines.append("(~ = estimated as 5 calls of K=1; run with --peer-k5 to time it)")
    lines.append(f"floor:forward {_ms(med.get('floor:forward'))} ms, floor:layer "
                 f"{_ms(med.get('floor:layer'))} ms, floor:input {_ms(med.get('floor:input'))} ms")
    lines += _goals(med)
    return lines


def _goals(med: dict[str, float]) -> list[str]:
    checks = []

    def check(label: str, value: float | None, bound: float, lower_is_better: bool = True) -> None:
        if value is None or value != value:
            return
        ok = value <= bound if lower_is_better else value >= bound
        sign = "<=" if lower_is_better else ">="
        checks.append(f"  [{'met' if ok else 'MISSED'}] {label}: {value:.2f} (goal {sign} {bound})")

    def get(a: str, b: str) -> float | None:
        return med[a] / med[b] if a in med and b in med else None

    check("gradcam / floor:layer", get("ours:gradcam", "floor:layer"), 1.15)
    check("pytorch-grad-cam gradcam / ours", get("pgc:gradcam", "ours:gradcam"), 1.5, False)
    for method in ("backprop", "guided_backprop", "deconvnet"):
        check(f"{method} / floor:input", get(f"ours:{method}", "floor:input"), 1.15)
    check("gradcam K=5 / K=1", get("ours:gradcam_k5", "ours:gradcam"), 1.5)
    return ["goals:"] + checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Benchmark xai-eval explainers against the forward/backward floor, "
                    "pytorch-grad-cam and Captum (random weights, CPU). Prints one table per "
                    "model with ours/floor and peer/ours ratios and the issue's goals.")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS),
                        help="torchvision models to time (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=8, help="images per call (default 8)")
    parser.add_argument("--size", type=int, default=224, help="input side in px (default 224)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed rounds; the median is reported (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds (default 1)")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch.set_num_threads value (default 2)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall: elapsed seconds (default); cpu: process CPU seconds, "
                             "robust on a machine shared with other jobs (use --threads 1)")
    parser.add_argument("--cases", nargs="+", default=None, choices=list(ALL_CASES),
                        metavar="CASE", help="subset of cases to run: " + ", ".join(ALL_CASES))
    parser.add_argument("--peer-k5", action="store_true",
                        help="also time the peers on K=5 classes (5 calls each: ~25 extra "
                             "forward passes per round); without it their K=5 cost is shown "
                             "as ~5x their K=1 cost")
    parser.add_argument("--zoo", choices=("gradient", "perturbation"), default=None,
                        help="time the explainer-zoo rows instead: 'gradient' (gradient CAMs "
                             "vs the Grad-CAM floor, IG/SmoothGrad K=5 vs their floor and "
                             "Captum, on --models) or 'perturbation' (Score-CAM, Ablation-CAM, "
                             "RISE at K=5 vs pytorch-grad-cam/torchcam, on --zoo-model)")
    parser.add_argument("--zoo-model", default="resnet18",
                        help="torchvision model with a layer4 for --zoo perturbation (default "
                             "%(default)s)")
    parser.add_argument("--zoo-size", type=int, default=112,
                        help="input side for --zoo perturbation (default 112)")
    parser.add_argument("--zoo-batch", type=int, default=2,
                        help="images per call for --zoo perturbation (default 2)")
    parser.add_argument("--zoo-cams-only", action="store_true",
                        help="--zoo gradient: only the CAM rows (skip IG/SmoothGrad and Captum)")
    parser.add_argument("--rise-masks", type=int, default=256,
                        help="RISE masks in --zoo perturbation (default 256)")
    args = parser.parse_args(argv)
    if args.zoo:
        return run_zoo(args)
    if args.cases is None:
        args.cases = [c for c in ALL_CASES if args.peer_k5 or not c.endswith(":gradcam_k5")
                      or c.startswith("ours:")]
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    warnings.filterwarnings("ignore")
    print(f"torch {torch.__version__}, {args.threads} threads, batch {args.batch}, "
          f"{args.size}x{args.size}, {args.warmup} warm-up + {args.repeats} rounds, "
          f"{args.clock} clock")
    for model_name in args.models:
        model = torchvision.models.get_model(model_name, weights=None).eval()
        x = torch.randn(args.batch, 3, args.size, args.size)
        cases = build_cases(model, MODELS[model_name], x, set(args.cases))
        print(f"{model_name}: timing {len(cases)} cases", file=sys.stderr, flush=True)
        time_interleaved(cases, args.warmup, args.repeats, args.clock)
        print("\n".join(report(model_name, cases)), flush=True)
    return 0


def run_zoo(args: argparse.Namespace) -> int:
    """The issue-12 rows: one interleaved timing per model, then its table and goals."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    warnings.filterwarnings("ignore")
    gen = torch.Generator().manual_seed(0)
    if args.zoo == "gradient":
        runs = [(name, MODELS[name], args.batch, args.size) for name in args.models]
    else:
        runs = [(args.zoo_model, "layer4", args.zoo_batch, args.zoo_size)]
    print(f"torch {torch.__version__}, {args.threads} threads, zoo {args.zoo}, "
          f"{args.warmup} warm-up + {args.repeats} rounds, {args.clock} clock")
    for model_name, layer_name, batch, size in runs:
        model = torchvision.models.get_model(model_name, weights=None).eval()
        x = torch.randn(batch, 3, size, size)
        t1 = torch.randint(0, 1000, (batch,), generator=gen)
        t5 = torch.randint(0, 1000, (batch, 5), generator=gen)
        if args.zoo == "gradient":
            layer = dict(model.named_modules())[layer_name]
            fns = zoo.gradient_cases(model, layer_name, x, t1, t5, not args.zoo_cams_only)
            fns["floor:layer"] = lambda m=model, lay=layer, x=x, t=t1: floor_layer(m, lay, x, t)
        else:
            fns = zoo.perturbation_cases(model, layer_name, x, t5, args.rise_masks)
        cases = [Case(n, fn) for n, fn in fns.items()]
        print(f"{model_name} ({batch} x {size}px): timing {len(cases)} cases", file=sys.stderr,
              flush=True)
        time_interleaved(cases, args.warmup, args.repeats, args.clock)
        med = {c.name: c.median for c in cases}
        print(f"\n{model_name}, batch {batch}, {size}x{size}: median of {args.repeats} rounds (ms)")
        print("\n".join(zoo.zoo_report(med, args.zoo)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
