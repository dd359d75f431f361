"""``xai-eval plugins`` and ``--plugins-dir`` through click's CliRunner."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from xai_eval.cli import main
from xai_eval.plugins import build_registries

from .conftest import DIR_EXPLAINER_SOURCE


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "250"})  # wide enough that rich never wraps a row


def rows_with(output: str, word: str) -> list[list[str]]:
    """Table rows (cells split on the box character) whose first cell is ``word``."""
    rows = []
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if cells and cells[0] == word:
            rows.append(cells)
    return rows


def test_lists_every_explainer_with_its_plugin_and_version(runner) -> None:
    result = runner.invoke(main, ["plugins"])
    registries = build_registries()
    assert registries.names("explainers"), "no explainer is installed"
    for name in registries.names("explainers"):
        entry = registries.get("explainers", name)
        rows = [row[1:4] for row in rows_with(result.output, name)]
        assert [entry.plugin, entry.version, entry.summary] in rows, result.output
    for info in registries.plugins:
        assert any(row[1] == info.version for row in rows_with(result.output, info.name))


def test_help_explains_the_command(runner) -> None:
    result = runner.invoke(main, ["plugins", "--help"])
    assert result.exit_code == 0
    assert "List every plugin with its version" in result.output


def test_verbose_lists_each_explainers_paper_and_oracle(runner) -> None:
    result = runner.invoke(main, ["plugins", "-v"], env={"COLUMNS": "250"})
    assert "Explainer references" in result.output
    references = [row for row in rows_with(result.output, "scorecam") if len(row) == 3]
    assert references == [["scorecam", "Wang et al. 2020, arXiv:1910.01279",
                            "pytorch-grad-cam ScoreCAM, torchcam ScoreCAM (1e-5); hand loop"]]


def test_plugins_dir_option_loads_a_file(runner, plugin_dir) -> None:
    folder = plugin_dir(my_experiment=DIR_EXPLAINER_SOURCE)
    result = runner.invoke(main, ["--plugins-dir", str(folder), "plugins", "--verbose"])
    row, reference = rows_with(result.output, "dir_gradients")  # registry row, references row
    assert reference == ["dir_gradients", "-", "-"]
    assert row[1:4] == ["my_experiment", "9.9", "Plain gradients, registered from a plugins directory."]
    (plugin_row,) = rows_with(result.output, "my_experiment")
    assert plugin_row[2] == str(folder / "my_experiment.py")


def test_broken_plugin_is_reported_and_the_rest_still_listed(runner, plugin_dir) -> None:
    folder = plugin_dir(broken="raise RuntimeError('half-written plugin')\n",
                        my_experiment=DIR_EXPLAINER_SOURCE)
    result = runner.invoke(main, ["--plugins-dir", str(folder), "plugins"])
    assert result.exit_code == 1
    assert "error: plugin 'broken': import of" in result.output
    assert "RuntimeError: half-written plugin" in result.output
    assert rows_with(result.output, "dir_gradients") and rows_with(result.output, "gradcam")


def test_plugins_dir_explainer_is_usable_by_explain(runner, plugin_dir, tmp_path, monkeypatch) -> None:
    import textwrap

    import torch
    from PIL import Image

    (tmp_path / "xe_plugin_cli_net.py").write_text(textwrap.dedent('''
        import torch.nn as nn

        def build():
            return nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                 nn.Flatten(), nn.Linear(2, 3))
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    Image.new("RGB", (40, 30), (90, 30, 200)).save(tmp_path / "img.png")
    torch.manual_seed(0)
    folder = plugin_dir(my_experiment=DIR_EXPLAINER_SOURCE)
    result = runner.invoke(main, ["--plugins-dir", str(folder), "explain", "--model",
                                  "xe_plugin_cli_net:build", "--method", "dir_gradients",
                                  "--image", str(tmp_path / "img.png"), "--out",
                                  str(tmp_path / "o.png")])
    assert result.exit_code == 0, result.output
    assert "with dir_gradients" in result.output and (tmp_path / "o.png").is_file()
