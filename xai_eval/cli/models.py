"""``xai-eval gapify``: a CAM-ready network the CAM paper's way (the work is in
:mod:`xai_eval.cli.gapify_run`, imported when the command runs)."""

from __future__ import annotations

from pathlib import Path

import click

from xai_eval.errors import XaiEvalError


@click.command("gapify")
@click.option("--model", "model_spec", required=True, metavar="SPEC",
              help="Model to convert: a torchvision name with weights (vgg16@/path/w.pth), "
                   "an import path (pkg.mod:factory) or embedded:fc.")
@click.option("--cut-at", required=True, metavar="LAYER",
              help="Dotted name of the last layer to keep (e.g. features.29 for VGG-16's "
                   "conv5_3 + ReLU).")
@click.option("--dataset", "dataset_spec", required=True, metavar="FORMAT[:ROOT]",
              help="Training data as format:root (coco:/data/coco, folder_csv:/data/x) or "
                   "`embedded` for the embedded benchmark's training split.")
@click.option("--epochs", type=click.IntRange(min=1), default=5, show_default=True,
              help="Fine-tuning epochs.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the fine-tuned GAP model's weights (.pth).")
@click.option("--pool", type=click.Choice(["avg", "max"]), default="avg", show_default=True,
              help="Global average (CAM) or global max pooling (the paper's GMP comparison).")
@click.option("--channels", type=click.IntRange(min=1), default=1024, show_default=True,
              help="Units of the added 3x3 stride-1 conv (1024 in the CAM paper).")
@click.option("--lr", type=float, default=None, help="Learning rate (default: the helper's).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Batch size (default: the helper's).")
@click.option("--val", "val_spec", default=None, metavar="FORMAT[:ROOT]",
              help="Also report top-1 accuracy on this dataset (`embedded` = its test split).")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Stop after this many optimiser steps (quick trials).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bars.")
def gapify_command(model_spec: str, cut_at: str, dataset_spec: str, epochs: int, out_path: Path,
                   pool: str, channels: int, lr: float | None, batch_size: int | None,
                   val_spec: str | None, max_steps: int | None, no_progress: bool) -> None:
    """Build a CAM-ready network the CAM paper's way and fine-tune it.

    Cuts MODEL after --cut-at, adds a 3x3 stride-1 conv (--channels units), global
    average (or max) pooling and a linear classifier, fine-tunes on --dataset, and saves
    the weights to --out, so CAM can run on VGG-GAP/AlexNet-GAP-style models. Use the
    result in a suite as `{spec: SPEC, gapified: OUT}`. Example on the embedded benchmark:

      xai-eval gapify --model embedded:fc --cut-at features.10 --dataset embedded
      --val embedded --epochs 3 --channels 64 --out fc-gap.pth
    """
    from xai_eval.cli.gapify_run import run_gapify

    try:
        run_gapify(model_spec, cut_at, dataset_spec, epochs, out_path, pool, channels, lr,
                   batch_size, val_spec=val_spec, max_steps=max_steps,
                   progress=not no_progress, echo=click.echo)
    except XaiEvalError as exc:
        raise click.ClickException(str(exc)) from None
