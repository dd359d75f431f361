"""Reports: CSV/JSON/Markdown equal the table; the HTML page is self-contained."""

from __future__ import annotations

import csv
import json
import re

from xai_eval.suite.config import parse_suite
from xai_eval.suite.pipeline import run_suite
from xai_eval.suite.runner import RunOptions
from xai_eval.suite.tables import to_markdown

from .conftest import suite_dict


def test_reports_are_written_and_match_the_table(tmp_path, registries, fake_plugin, sqlite_url):
    root = fake_plugin.make_dataset(tmp_path / "data", count=6, corrupt=(1,))
    config = parse_suite(suite_dict(root, explainers=["gradcam", "cam"],
                                    metrics=["fake_hit", "fake_topk"]))
    messages: list[str] = []
    result = run_suite(config, RunOptions(db_url=sqlite_url, progress=False,
                                          echo=messages.append), tmp_path / "out", registries)
    files = result.files
    assert files is not None and result.table is not None
    rows = list(csv.DictReader(files.csv.open()))
    assert [r["method"] for r in rows] == ["gradcam", "cam", "gradcam", "cam"]
    assert float(rows[0]["cls top-1 err"]) == result.table.rows[0]["cls top-1 err"]
    payload = json.loads(files.json.read_text())
    assert payload["run_id"] == result.outcome.run_id
    assert [s["image_id"] for s in payload["skipped_images"]] == ["img001"]
    assert payload["skipped_pairs"][0]["explainer"] == "cam"
    assert any(a["metric"] == "fake_hit" and a["values"] for a in payload["aggregates"])
    assert files.markdown.read_text().endswith(to_markdown(result.table))
    page = files.html.read_text()
    assert "<table>" in page and "cls top-1 err" in page and "Skipped images: <b>1</b>" in page
    # self-contained: every image is inline, nothing is fetched from elsewhere
    assert not re.search(r'(src|href)="(https?:)?//', page)
    images = re.findall(r'src="data:image/png;base64,', page)
    assert len(images) >= 2 + 2  # bar charts + one example grid per model
    assert "(skipped)" in page
