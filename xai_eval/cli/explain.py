"""``xai-eval explain``: one image, one model, one method -> a heat-map overlay PNG.

Heavy imports (torch, torchvision, matplotlib) happen inside the command so
``xai-eval --help`` stays fast. :func:`run_explain` is the command's work without click
(tests call it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

EXPLAIN_EPILOG = """\b
Examples:
  xai-eval explain --model resnet50 --weights resnet50-11ad3fa6.pth \\
      --method gradcam --image dog.jpg --target "golden retriever" --out dog_gradcam.png
  xai-eval explain --model mypkg.nets:build_net --weights net.pth --method guided_backprop \\
      --image x.png --target 3 --out x_gb.png
"""


def load_image(path: Path) -> Any:
    """Decode ``path`` as RGB, upright as a viewer shows it (EXIF orientation applied), or
    raise CorruptImageError naming the file."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from xai_eval.data.base import CorruptImageError

    try:
        with Image.open(path) as image:
            return ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise CorruptImageError(
            f"cannot decode image {path}: {exc}. Pass a JPEG/PNG/... file Pillow can open"
        ) from None


def resolve_target(target: str | None, classes: list[str] | None, num_classes: int,
                   predicted: int) -> int:
    """``--target`` as a class index: None -> the prediction; digits -> that index; text ->
    the class whose name matches (case-insensitive; exact first, then a unique substring)."""
    from xai_eval.errors import InputValidationError

    if target is None:
        return predicted
    text = target.strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        if not 0 <= index < num_classes:
            raise InputValidationError(
                f"--target {index} is out of range; the model has classes 0..{num_classes - 1}")
        return index
    if not classes:
        raise InputValidationError(
            f"--target {text!r} is a name, but this model has no class names; give an index "
            f"0..{num_classes - 1}")
    lowered = [name.lower() for name in classes]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    partial = [i for i, name in enumerate(lowered) if text.lower() in name]
    if len(partial) == 1:
        return partial[0]
    if partial:
        shown = ", ".join(f"{i} {classes[i]!r}" for i in partial[:8])
        raise InputValidationError(
            f"--target {text!r} matches several classes ({shown}{', ...' if len(partial) > 8 else ''}); "
            "give the full name or the index")
    import difflib

    close = difflib.get_close_matches(text.lower(), lowered, n=3, cutoff=0.6)
    hint = ("; did you mean " + ", ".join(repr(classes[lowered.index(c)]) for c in close) + "?"
            if close else "")
    raise InputValidationError(f"--target {text!r} is not a class name of this model{hint}")


@click.command("explain", epilog=EXPLAIN_EPILOG)
@click.option("--model", "model_spec", required=True, metavar="SPEC",
              help="A torchvision name (resnet50, vgg16, ...), NAME@/path/w.pth, "
                   "package.module:factory, or any spec a model-source plugin accepts.")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Local weights file (state dict). Required for pretrained torchvision "
                   "networks unless the file is in torchvision's cache; nothing is downloaded.")
@click.option("--method", default="gradcam", show_default=True,
              help="Explainer name (see `xai-eval plugins`).")
@click.option("--image", "image_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The photo to explain.")
@click.option("--target", default=None, metavar="CLASS",
              help="Class to explain: an index or a category name. Default: the predicted class.")
@click.option("--layer", default=None, metavar="NAME",
              help="Target layer for CAM-family methods (e.g. layer4, features.28). "
                   "Default: chosen automatically.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Where to write the overlay PNG. Default: IMAGE_METHOD.png "
                                 "in the current folder.")
@click.option("--alpha", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True,
              help="Opacity of the heat map over the image.")
@click.option("--cmap", default="jet", show_default=True, help="Matplotlib colormap.")
@click.option("--device", default="cpu", show_default=True, help="torch device, e.g. cuda.")
def explain_command(model_spec: str, weights: Path | None, method: str, image_path: Path,
                    target: str | None, layer: str | None, out_path: Path | None, alpha: float,
                    cmap: str, device: str) -> None:
    """Explain a model's decision on one image and write a heat-map overlay.

    Loads the model (from local files only), prints its top prediction and score, computes
    the METHOD map for the target class and blends it, coloured, over the image as the
    model saw it (after its resize and centre crop).
    """
    from xai_eval.errors import XaiEvalError

    out_path = out_path or Path(f"{image_path.stem}_{method}.png")
    try:
        lines = run_explain(model_spec, weights, method, image_path, target, layer, out_path,
                            alpha, cmap, device)
    except XaiEvalError as exc:
        raise click.ClickException(str(exc)) from None
    for line in lines:
        click.echo(line)


def run_explain(model_spec: str, weights: Path | None, method: str, image_path: Path,
                target: str | None, layer: str | None, out_path: Path, alpha: float, cmap: str,
                device: str) -> list[str]:
    """The command's work, returning the lines it prints (kept apart for testing)."""
    import torch
    from rich.console import Console

    from xai_eval.api import get_explainer
    from xai_eval.explain.overlay import model_view, overlay
    from xai_eval.models.loading import load_model

    status = Console(stderr=True)
    image = load_image(image_path)  # decode first: a bad photo should not cost a model load
    with status.status(f"loading {model_spec}"):
        loaded = load_model(model_spec, weights=str(weights) if weights else None, device=device)
    batch = loaded.preprocess(image).unsqueeze(0).to(device)
    with torch.no_grad():
        logits = loaded.model(batch)
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2:
        from xai_eval.errors import UnsupportedModelError

        raise UnsupportedModelError(
            f"{loaded.name} does not return (1, num_classes) scores; `explain` needs a classifier")
    probabilities = logits.float().softmax(dim=1)[0]
    predicted = int(probabilities.argmax())
    class_id = resolve_target(target, loaded.classes, logits.shape[1], predicted)
    explainer = get_explainer(method, loaded.model, target_layer=layer or loaded.target_layer)
    with status.status(f"computing {method}"):
        explanation = explainer.explain(batch, [class_id])
    saliency = explanation.maps[0, 0]
    view = model_view(image, loaded.preprocess, tuple(batch.shape[-2:]))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    overlay(view, saliency, alpha=alpha, cmap=cmap).save(out_path, format="PNG")

    def label(index: int) -> str:
        name = f" {loaded.classes[index]}" if loaded.classes else ""
        return f"{index}{name} (p={float(probabilities[index]):.3f})"

    where = f" at layer {explanation.layer!r}" if explanation.layer else ""
    lines = [f"predicted: {label(predicted)}",
             f"explained: {label(class_id)} with {method}{where}"]
    if bool(explanation.degenerate[0, 0]):
        lines.append("warning: the map is constant (degenerate): it highlights nothing")
    lines.append(f"wrote {out_path}")
    return lines

