"""`study build` announces its long steps (issue 8: the trust build printed nothing for
three minutes while it trained and ran the models)."""

from __future__ import annotations

from tests.studies.conftest import write_definition
from xai_eval.studies.build import build_study


def test_build_reports_each_long_step(sqlite_url, tmp_path, fake_dataset, fake_models):
    steps: list[str] = []
    rendered: list[tuple[int, int]] = []
    path = write_definition(tmp_path / "trust.yaml", "trust")
    build_study(path, sqlite_url, dataset=fake_dataset, models=fake_models, step=steps.append,
                progress=lambda done, total: rendered.append((done, total)))
    assert steps[0] == "applying database migrations"
    assert any(s.startswith("choosing items with the 'trust' task") for s in steps)
    assert steps[-1].startswith("rendering the stimuli of")
    assert rendered and rendered[-1][0] == rendered[-1][1]


def test_loading_models_says_that_the_first_build_trains_them(
        sqlite_url, tmp_path, fake_dataset, fake_models, monkeypatch):
    from xai_eval.studies import build

    steps: list[str] = []
    monkeypatch.setattr(build, "load_models", lambda definition, registries=None: fake_models)
    path = write_definition(tmp_path / "cd.yaml")
    build_study(path, sqlite_url, dataset=fake_dataset, step=steps.append)
    assert any("trained on the CPU on first use" in s for s in steps)
