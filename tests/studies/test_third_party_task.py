"""A third study type is a plugin: built, served and scored without touching the core."""

from __future__ import annotations

import textwrap

import pytest

from xai_eval.db.base import make_engine, session_factory
from xai_eval.plugins import reload_default_registries
from xai_eval.studies import participant_service as service
from xai_eval.studies.build import build_study
from xai_eval.studies.platform import PlatformVisit

from .conftest import write_definition

PLUGIN = textwrap.dedent('''
    """A yes/no study: is the highlighted object a <class>?"""
    from xai_eval import hookimpl
    from xai_eval.studies.tasks import (ItemPlan, Option, Presentation, Scored,
                                        StimulusRequest, StimulusSlot, StudyTask)


    class YesNoTask(StudyTask):
        """Say whether a visualization shows the named category (chance 1/2)."""

        name = "yes_no"
        chance = 0.5

        def plan_items(self, context):
            plans = []
            for index in range(len(context.dataset)):
                item = context.dataset[index]
                shown = item.classes_present()[0]
                asked = (shown + index % 2) % len(context.dataset.classes)
                plans.append(ItemPlan(
                    key=f"{item.image_id}", kind="main", condition="guided_backprop",
                    image_id=item.image_id,
                    stimuli=[StimulusRequest("main", index, shown, "guided_backprop",
                                             "strong")],
                    payload={"asked": context.class_name(asked)},
                    answer_key={"correct": "yes" if asked == shown else "no"}))
            return plans

        def placement(self, payload, flip):
            return {"positions": {"center": "main"}}

        def present(self, payload, placement):
            return Presentation(f"Does the picture show a {payload['asked']}?",
                                [Option("yes", "Yes"), Option("no", "No")],
                                [StimulusSlot("center", "")], "choice")

        def score(self, answer_key, placement, answer):
            ok = answer == answer_key["correct"]
            return Scored(ok, float(ok))


    @hookimpl
    def xai_eval_register_study_tasks():
        return [YesNoTask]
''')


@pytest.fixture
def yes_no_plugin(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "yes_no_study.py").write_text(PLUGIN)
    registries = reload_default_registries(folder)
    try:
        assert "yes_no" in registries.names("study_tasks"), registries.errors
        yield registries
    finally:
        reload_default_registries(None)


def test_third_party_task_end_to_end(yes_no_plugin, sqlite_url, fake_dataset, fake_models,
                                     tmp_path):
    path = write_definition(tmp_path / "yes_no.yaml", task="yes_no", practice_trials=0,
                            attention_checks=1)
    report = build_study(path, sqlite_url, dataset=fake_dataset, models=fake_models)
    assert report.counts == {"main": 12, "attention": 4}
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as s:
        started = service.start_or_resume(s, service.get_study(s, "test_yes_no"), PlatformVisit())
        view = service.next_trial(s, started.token)
        assert view.question.startswith("Does the picture show a")
        assert "correct" not in str(view.as_dict())
        outcome = service.submit_answer(s, started.token, view.trial_id, "yes", 700)
        assert outcome.stored
    engine.dispose()
