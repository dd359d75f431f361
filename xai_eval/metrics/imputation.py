"""Noisy linear imputation (Rong et al., ROAD, ICML 2022).

Deleting pixels by setting them to a constant leaks the deleted shape to the model (it
can classify the *mask*); ROAD instead fills each removed pixel with the weighted mean of
its 8 neighbours — weight 1/6 for the 4 axial ones, 1/12 for the diagonals, only those
inside the image — solving one sparse linear system for all removed pixels at once
(known neighbours are constants), then adds Gaussian noise of standard deviation
``noise`` (absolute, in the input space; ROAD's 0.01). The result is the harmonic-like
infill the paper describes, in which the removed region carries no sharp edge.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.sparse import csc_matrix, diags
from scipy.sparse.linalg import spsolve

from xai_eval.errors import InputValidationError

#: (row offset, column offset, weight) of the 8 neighbours
NEIGHBOURS = ((-1, -1, 1 / 12), (-1, 0, 1 / 6), (-1, 1, 1 / 12), (0, -1, 1 / 6),
              (0, 1, 1 / 6), (1, -1, 1 / 12), (1, 0, 1 / 6), (1, 1, 1 / 12))


def linear_impute(image: torch.Tensor, removed: Any, noise: float = 0.01,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """A copy of the (C, H, W) ``image`` with the ``removed`` (H, W) pixels imputed.

    ``noise`` > 0 needs a ``generator`` (the sample's stream), so runs are reproducible.
    Raises InputValidationError when every pixel is removed (nothing to impute from).
    """
    if image.dim() != 3:
        raise InputValidationError(f"image must be (C, H, W), got {tuple(image.shape)}")
    channels, height, width = image.shape
    gone = np.asarray(removed, dtype=bool).reshape(-1)
    if gone.size != height * width:
        raise InputValidationError(f"removed mask has {gone.size} pixels, the image "
                                   f"{height * width}")
    index = np.flatnonzero(gone)
    if index.size == 0:
        return image.clone()
    if index.size == gone.size:
        raise InputValidationError("every pixel is removed: nothing to impute from")
    flat = image.detach().double().cpu().reshape(channels, -1).numpy()
    variable = np.full(gone.size, -1)
    variable[index] = np.arange(index.size)
    rows, cols = index // width, index % width
    weight_sum = np.zeros(index.size)
    rhs = np.zeros((index.size, channels))
    a_rows, a_cols, a_vals = [], [], []
    for dr, dc, weight in NEIGHBOURS:
        r, c = rows + dr, cols + dc
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        weight_sum[inside] += weight
        source = np.flatnonzero(inside)
        neighbour = r[inside] * width + c[inside]
        unknown = gone[neighbour]
        a_rows.append(source[unknown])
        a_cols.append(variable[neighbour[unknown]])
        a_vals.append(np.full(int(unknown.sum()), weight))
        np.subtract.at(rhs, source[~unknown], weight * flat[:, neighbour[~unknown]].T)
    system = csc_matrix((np.concatenate(a_vals), (np.concatenate(a_rows),
                                                  np.concatenate(a_cols))),
                        shape=(index.size, index.size)) - diags(weight_sum, format="csc")
    solution = np.asarray(spsolve(system, rhs)).reshape(index.size, channels)
    filled = torch.from_numpy(flat.copy())
    values = torch.from_numpy(solution.T.copy())
    if noise > 0:
        if generator is None:
            raise InputValidationError("noise > 0 needs a generator (the sample's stream)")
        values = values + noise * torch.randn(values.shape, generator=generator,
                                              dtype=torch.float64)
    filled[:, torch.from_numpy(index)] = values
    return filled.reshape(channels, height, width).to(dtype=image.dtype, device=image.device)





def road_curves(model: torch.nn.Module, image: Any, target: int, saliency: Any,
                percentiles: tuple[float, ...] = (10, 20, 30, 40, 50, 60, 70, 80, 90), *,
                noise: float = 0.01, generator: torch.Generator | None = None,
                output: str = "softmax", on_size_mismatch: str = "resize"
                ) -> tuple[float, list[float], list[float]]:
    """ROAD's scores: ``(Y, MoRF, LeRF)`` — the class score of the image, then per
    percentile ``p`` the score after imputing the pixels at or above the map's ``p``-th
    percentile (most relevant first) / at or below the ``(100 − p)``-th (least relevant
    first), as pytorch-grad-cam's ``RemoveMostRelevantFirst`` / ``RemoveLeastRelevantFirst``
    choose them. One forward for all ``1 + 2·len(percentiles)`` images.
    """
    from xai_eval.explain.state import ModelStateGuard
    from xai_eval.metrics.curves import OUTPUTS, check_image
    from xai_eval.metrics.shapes import as_saliency

    if output not in OUTPUTS:
        raise InputValidationError(f"output must be one of {OUTPUTS}, not {output!r}")
    if not percentiles or any(not 0 < p < 100 for p in percentiles):
        raise InputValidationError(f"percentiles must lie in (0, 100), got {percentiles}")
    image = check_image(image)
    sal = as_saliency(saliency, tuple(image.shape[-2:]), on_size_mismatch)
    batch = [image]
    for sign in (1.0, -1.0):  # MoRF on the map, LeRF on its negation (rank order only)
        ranked = sign * sal
        for p in percentiles:
            removed = ranked >= np.percentile(ranked, p)
            batch.append(linear_impute(image, removed, noise, generator))
    with ModelStateGuard(model, eval_mode=True), torch.no_grad():
        logits = model(torch.stack(batch)).double()
    scores = (logits.softmax(dim=1) if output == "softmax" else logits)[:, int(target)].tolist()
    k = len(percentiles)
    return scores[0], scores[1:1 + k], scores[1 + k:]
__all__ = ["NEIGHBOURS", "linear_impute", "road_curves"]
