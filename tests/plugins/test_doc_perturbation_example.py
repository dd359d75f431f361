"""The perturbation-method example in docs/plugins.md runs as a plugins-directory plugin.

Oracle: for a linear model ``s_c(x) = w_c . x + b_c`` hiding quadrant Q (fill f) lowers the
score by ``sum_{i in Q} w_c,i (x_i - f)``, so the map is that drop on Q's pixels.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn as nn

import xai_eval
from xai_eval.plugins import build_registries

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def example_source() -> str:
    text = DOCS.read_text()
    (code,) = re.findall(r"<!-- perturbation-example -->\n```python\n(.*?)```", text, re.DOTALL)
    return code


def test_doc_perturbation_example_matches_its_closed_form(tmp_path: Path) -> None:
    (tmp_path / "quadrants.py").write_text(example_source())
    registries = build_registries(plugins_dir=tmp_path, load_entry_points=False)
    assert not registries.errors, registries.errors
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 6 * 6, 4)).double()
    images = torch.randn(2, 3, 6, 6).double()
    targets = torch.tensor([[1, 3], [0, 0]])
    explainer = xai_eval.get_explainer("quadrant_drop", model, registries=registries, fill=0.5,
                                       batch_size=3)
    raw = explainer.attribute(images, targets)  # (B, K, 1, H, W)
    weight = model[1].weight.detach().view(4, 3, 6, 6)
    for b in range(2):
        for k in range(2):
            contribution = (weight[targets[b, k]] * (images[b] - 0.5)).sum(0)  # (H, W)
            expected = torch.zeros(6, 6, dtype=torch.float64)
            for ys in (slice(0, 3), slice(3, 6)):
                for xs in (slice(0, 3), slice(3, 6)):
                    expected[ys, xs] = contribution[ys, xs].sum()
            torch.testing.assert_close(raw[b, k, 0], expected, rtol=1e-9, atol=1e-12)
    assert explainer(images, 1).shape == (2, 6, 6)
