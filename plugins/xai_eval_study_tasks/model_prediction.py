"""Model prediction (Colin et al. 2022; Hase & Bansal 2020): can people predict the model?

Between subjects, each participant is given one condition: an explainer, or ``control``.

1. **Training phase** (stored as practice items): images of the scenario with the model's
   decision, and — except in the control — the explainer's map of that decision beside
   the image. The participant studies each example and clicks "Next".
2. **Test phase** (main items): new images (never shown in training; ``study build``
   refuses overlapping definitions); the participant predicts the model's decision, with
   no explanation shown, choosing among ``parameters.classes``.

Variants (``parameters.simulation``): ``forward`` — predict the decision on the test image;
``counterfactual`` — the test shows the image with the model's decision and a changed copy
(the decided object's box covered with the image's mean colour) and asks for the decision
on the changed copy; test items are balanced between changed and unchanged decisions when
the images allow it.

Utility of an explainer = test accuracy of its participants minus that of the control
(:mod:`xai_eval.studies.utility`); every condition's accuracy is also compared with
chance (1 / number of classes offered).
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from xai_eval.studies.errors import StudyDefinitionError
from xai_eval.studies.tasks import (
    ItemPlan,
    Option,
    Presentation,
    Scored,
    StimulusRequest,
    StimulusSlot,
    StudyTask,
)
from xai_eval_study_tasks.scenarios import Case, get_scenario

CONTROL = "control"
NEXT = "next"
TRAIN_QUESTION = "Study this example: the model's decision is shown under the photo."
FORWARD_QUESTION = "What will the model decide for this photo?"
COUNTERFACTUAL_QUESTION = ("Part of the photo was covered (right). What will the model decide "
                           "for the changed photo?")


class ModelPredictionTask(StudyTask):
    """Learn the model from examples (with or without explanations), then predict it.

    Parameters (``parameters:`` in the study file; all recorded with the study):
    ``classes`` (required: the answer options, names of dataset classes; chance is
    1/len), ``model`` (whose decisions; default the first model), ``scenario`` (``mixed``,
    ``correct``, ``failure``, ``all`` or a registered one), ``simulation`` (``forward`` |
    ``counterfactual``), ``training_items`` (images per training phase, default 8),
    ``test_items`` (test images, default 12; ``trials_per_participant`` of them are shown),
    ``control`` (add the unexplained condition, default true), ``training_images`` /
    ``test_images`` (optional explicit image ids, checked for overlap at build).
    """

    name: ClassVar[str] = "model_prediction"
    response_kind: ClassVar[str] = "choice"
    chance: ClassVar[float | None] = None
    between_subjects: ClassVar[bool] = True
    disjoint_phases: ClassVar[bool] = True

    def __init__(self, definition: Any) -> None:
        super().__init__(definition)
        classes = self._param("classes", None)
        if not isinstance(classes, list) or len(classes) < 2 or len(set(classes)) != len(classes):
            raise StudyDefinitionError(
                "the model_prediction task needs parameters.classes: the distinct class names "
                "offered as answers (at least two), e.g. [disk, square, triangle, ring, cross]")
        self.classes: list[str] = [str(c) for c in classes]
        # an instance value: chance depends on the options this study offers
        self.chance = 1.0 / len(self.classes)  # type: ignore[misc]
        self.simulation = self._param("simulation", "forward")
        if self.simulation not in ("forward", "counterfactual"):
            raise StudyDefinitionError(f"parameters.simulation must be 'forward' or "
                                       f"'counterfactual', got {self.simulation!r}")
        names = [e.name for e in definition.explainers]
        if CONTROL in names:
            raise StudyDefinitionError(f"an explainer may not be called {CONTROL!r}: that is "
                                       "the unexplained condition")
        self.conditions = names + ([CONTROL] if self._param("control", True) else [])

    def _param(self, key: str, default: Any) -> Any:
        return getattr(self.parameters, key, default)

    # --- planning ------------------------------------------------------------------------
    def _model(self) -> str:
        name = self._param("model", None) or self.definition.models[0].name
        if name not in [m.name for m in self.definition.models]:
            raise StudyDefinitionError(f"parameters.model {name!r} is not one of the models")
        return str(name)

    def _class_ids(self, context: Any) -> dict[str, int]:
        known = list(getattr(context.dataset, "classes", []) or [])
        missing = [c for c in self.classes if c not in known]
        if missing:
            raise StudyDefinitionError(f"parameters.classes {missing} are not classes of the "
                                       f"dataset; available: {', '.join(map(str, known))}")
        return {c: known.index(c) for c in self.classes}

    def _cases(self, context: Any, model: str, ids: dict[str, int]) -> list[Case]:
        wanted = set(ids.values())
        cases = []
        for index in range(len(context.dataset)):
            item = context.dataset[index]
            present = set(item.classes_present())
            decision = context.predict(model, index)
            if decision in wanted and present <= wanted:
                cases.append(Case(index, item.image_id, decision, decision in present))
        random.Random(self.parameters.seed).shuffle(cases)
        return cases

    def _split(self, pool: list[Case]) -> tuple[list[Case], list[Case]]:
        n_train = int(self._param("training_items", 8))
        n_test = int(self._param("test_items", 12))
        train_ids = self._param("training_images", None)
        test_ids = self._param("test_images", None)
        if train_ids is None and test_ids is None:
            return pool[:n_train], pool[n_train:n_train + n_test]
        by_id = {c.image_id: c for c in pool}
        unknown = [i for i in [*(train_ids or []), *(test_ids or [])] if i not in by_id]
        if unknown:
            raise StudyDefinitionError(f"images {unknown[:10]} are not usable cases of the "
                                       f"scenario (unknown id, or outside parameters.classes)")
        training = [by_id[i] for i in train_ids] if train_ids else [
            c for c in pool if c.image_id not in set(test_ids or [])][:n_train]
        test = [by_id[i] for i in test_ids] if test_ids else [
            c for c in pool if c.image_id not in set(train_ids or [])][:n_test]
        return training, test  # overlap is refused by build (check_disjoint_phases)

    def _cover(self, context: Any, case: Case) -> tuple[float, float, float, float]:
        item = context.dataset[case.index]
        boxes = [a for a in item.annotations if a.class_id == case.decision] or list(
            item.annotations)
        w, h = float(item.width), float(item.height)
        if not boxes:
            return (0.25, 0.25, 0.75, 0.75)
        x1, y1, x2, y2 = max(boxes, key=lambda a: (a.box[2] - a.box[0]) * (a.box[3] - a.box[1])).box
        return (x1 / w, y1 / h, x2 / w, y2 / h)

    def _counterfactual_test(self, context: Any, model: str, candidates: list[Case],
                             n_test: int, explicit: bool
                             ) -> list[tuple[Case, tuple[float, ...], int]]:
        """(case, cover, decision on the covered image) for the test; unless the images are
        listed explicitly, half of them have a changed decision when the images allow it
        (Hase & Bansal's balance), drawn from up to 4x as many candidates."""
        rows = []
        for case in candidates if explicit else candidates[:4 * n_test]:
            cover = self._cover(context, case)
            rows.append((case, cover, context.predict(model, case.index, cover)))
        if explicit:
            return rows
        changed = [r for r in rows if r[2] != r[0].decision]
        same = [r for r in rows if r[2] == r[0].decision]
        n_changed = min(len(changed), n_test // 2)
        picked = changed[:n_changed] + same[:n_test - n_changed]
        picked += changed[n_changed:n_changed + n_test - len(picked)]
        order = {id(r[0]): i for i, r in enumerate(rows)}
        return sorted(picked, key=lambda r: order[id(r[0])])

    def plan_items(self, context: Any) -> list[ItemPlan]:
        model = self._model()
        ids = self._class_ids(context)
        names = {v: k for k, v in ids.items()}
        cases = self._cases(context, model, ids)
        pool = get_scenario(str(self._param("scenario", "mixed")))(cases)
        training, test = self._split(pool)
        if not training or not test:
            raise StudyDefinitionError(
                f"scenario {self._param('scenario', 'mixed')!r} leaves {len(pool)} usable "
                f"images of model {model!r}: not enough for {len(training)} training and "
                f"{len(test)} test images")
        plans: list[ItemPlan] = []
        for condition in self.conditions:
            explainer = None if condition == CONTROL else condition
            for case in training:
                plans.append(self._training_plan(model, condition, explainer, case, names))
        if self.simulation == "forward":
            tests: list[tuple[Case, Any, int]] = [(case, None, case.decision) for case in test]
        else:
            explicit = self._param("test_images", None) is not None
            seen = {c.image_id for c in training}
            candidates = test if explicit else [c for c in pool if c.image_id not in seen]
            tests = self._counterfactual_test(context, model, candidates,
                                              int(self._param("test_items", 12)), explicit)
        for condition in self.conditions:
            for case, cover, target in tests:
                plans.append(self._test_plan(model, condition, case, cover, target, names))
        return plans

    def _training_plan(self, model: str, condition: str, explainer: str | None, case: Case,
                       names: dict[int, str]) -> ItemPlan:
        stimuli = [StimulusRequest("image", case.index, case.decision, None, model)]
        provenance: dict[str, Any] = {"image": {"model": model, "explainer": None}}
        if explainer is not None:
            stimuli.append(StimulusRequest("explanation", case.index, case.decision,
                                           explainer, model))
            provenance["explanation"] = {"model": model, "explainer": explainer,
                                         "class_id": case.decision}
        return ItemPlan(
            key=f"train:{condition}:{case.image_id}", kind="practice", condition=condition,
            image_id=case.image_id, stimuli=stimuli,
            payload={"phase": "training", "question": TRAIN_QUESTION,
                     "decision": names[case.decision], "provenance": provenance},
            answer_key={"decision": names[case.decision], "model_correct": case.correct})

    def _test_plan(self, model: str, condition: str, case: Case, cover: Any, target: int,
                   names: dict[int, str]) -> ItemPlan:
        stimuli = [StimulusRequest("image", case.index, case.decision, None, model)]
        payload: dict[str, Any] = {"phase": "test", "question": FORWARD_QUESTION,
                                   "options": list(self.classes),
                                   "provenance": {"image": {"model": model, "explainer": None}}}
        if cover is not None:
            stimuli.append(StimulusRequest("changed", case.index, target, None, model,
                                           tuple(cover)))
            payload.update(question=COUNTERFACTUAL_QUESTION, decision=names[case.decision])
            payload["provenance"]["changed"] = {"model": model, "explainer": None,
                                                "cover": list(cover)}
        return ItemPlan(
            key=f"test:{condition}:{case.image_id}", kind="main", condition=condition,
            image_id=case.image_id, stimuli=stimuli, payload=payload,
            answer_key={"correct": names[target], "label": names[target],
                        "model_correct": case.correct,
                        "changed": cover is not None and target != case.decision})

    def analysis_plan(self) -> str:
        return (
            f"Unit: the participant (test accuracy = share of the {self.simulation}-simulation "
            "test trials where the model's decision was predicted). Conditions between "
            f"subjects: {', '.join(self.conditions)}. Per condition: mean accuracy with a t "
            f"95% CI and a one-sample t test against chance (1/{len(self.classes)}). Utility "
            "of each explainer = its mean accuracy - the control's, with a Welch 95% CI and "
            "two-sided Welch t test (no correction for multiple explainers is applied "
            "automatically; compare p with alpha / number of explainers for Bonferroni), "
            "also reported as the ratio of the means (Colin et al. 2022) and Cohen's d.")

    # --- one trial -----------------------------------------------------------------------
    def placement(self, payload: dict[str, Any], flip: bool) -> dict[str, Any]:
        if payload.get("phase") == "training":
            has_map = "explanation" in payload.get("provenance", {})
            positions = {"left": "image", "right": "explanation"} if has_map else {
                "center": "image"}
            return {"positions": positions}
        options = list(payload["options"])
        positions = ({"left": "image", "right": "changed"} if "changed" in payload["provenance"]
                     else {"center": "image"})
        return {"positions": positions, "options": list(reversed(options)) if flip else options}

    def present(self, payload: dict[str, Any], placement: dict[str, Any]) -> Presentation:
        positions = placement["positions"]
        if payload.get("phase") == "training":
            decided = f"The model decided: {payload['decision']}"
            captions = {"center": decided, "left": decided,
                        "right": "What the model's decision was based on"}
            return Presentation(
                question=payload.get("question", TRAIN_QUESTION),
                options=[Option(NEXT, "Next example")],
                stimuli=[StimulusSlot(p, captions[p]) for p in positions],
                response_kind="choice", extra={"phase_label": "Training."})
        captions = {"center": "", "left": "", "right": "Changed photo"}
        if "decision" in payload:
            captions["left"] = f"Original — the model decided: {payload['decision']}"
        return Presentation(
            question=payload.get("question", FORWARD_QUESTION),
            options=[Option(name, name) for name in placement["options"]],
            stimuli=[StimulusSlot(p, captions[p]) for p in positions],
            response_kind="choice", extra={"phase_label": "Test."})

    def score(self, answer_key: dict[str, Any], placement: dict[str, Any],
              answer: str | int) -> Scored:
        if "decision" in answer_key and "correct" not in answer_key:  # a training example
            return Scored(correct=None, score=None)
        ok = answer == answer_key["correct"]
        return Scored(correct=ok, score=1.0 if ok else 0.0)

    def feedback(self, payload: dict[str, Any], answer_key: dict[str, Any],
                 placement: dict[str, Any], scored: Scored) -> str | None:  # type: ignore[override]
        """None: a training example needs no feedback (its decision is on the screen)."""
        return None
