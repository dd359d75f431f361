"""Class discrimination (Grad-CAM §5.1): which of the two categories is being explained?"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from xai_eval.studies.tasks import (
    ItemPlan,
    Option,
    Presentation,
    Scored,
    StimulusRequest,
    StimulusSlot,
    StudyTask,
)

QUESTION = "Which of the two object categories is depicted in the image?"


class ClassDiscriminationTask(StudyTask):
    """Name the category a visualization explains, given the image's two categories (chance 1/2).

    Items: images with exactly two annotated categories; one of them (chosen at random,
    seeded) is explained by each listed explainer, so every image-category pair yields one
    item per explainer (the paper: 90 pairs x 4 techniques = 360). Models alternate over
    the pairs (``model_split: alternate``; the paper does not say how it split them).
    The two category names are the options, their order counterbalanced.
    """

    name: ClassVar[str] = "class_discrimination"
    response_kind: ClassVar[str] = "choice"
    chance: ClassVar[float | None] = 0.5

    def plan_items(self, context: Any) -> list[ItemPlan]:
        rng = random.Random(self.parameters.seed)
        dataset = context.dataset
        pairs = []
        for index in range(len(dataset)):
            item = dataset[index]
            present = item.classes_present()
            if len(present) == 2:
                pairs.append((index, item.image_id, present))
        rng.shuffle(pairs)
        practice_n = self.parameters.practice_trials
        max_pairs = self.parameters.max_items or len(pairs)
        models = [m.name for m in self.definition.models]
        explainers = [e.name for e in self.definition.explainers]
        plans: list[ItemPlan] = []
        for number, (index, image_id, present) in enumerate(pairs[: practice_n + max_pairs]):
            target = rng.choice(present)
            names = [context.class_name(c) for c in present]
            model = models[number % len(models)]
            practice = number < practice_n
            chosen = [explainers[number % len(explainers)]] if practice else explainers
            for explainer in chosen:
                kind = "practice" if practice else "main"
                plans.append(ItemPlan(
                    key=f"{kind}:{image_id}:{target}:{model}:{explainer}", kind=kind,
                    condition=explainer, image_id=image_id,
                    stimuli=[StimulusRequest("main", index, target, explainer, model)],
                    payload={"question": QUESTION, "names": sorted(names),
                             "provenance": {"main": {"model": model, "explainer": explainer,
                                                     "class_id": target}}},
                    answer_key={"correct": context.class_name(target),
                                "label": context.class_name(target)}))
        return plans

    def placement(self, payload: dict[str, Any], flip: bool) -> dict[str, Any]:
        names = list(payload["names"])
        return {"positions": {"center": "main"},
                "options": list(reversed(names)) if flip else names}

    def present(self, payload: dict[str, Any], placement: dict[str, Any]) -> Presentation:
        return Presentation(
            question=payload.get("question", QUESTION),
            options=[Option(name, name) for name in placement["options"]],
            stimuli=[StimulusSlot("center", "")], response_kind="choice")

    def score(self, answer_key: dict[str, Any], placement: dict[str, Any],
              answer: str | int) -> Scored:
        ok = answer == answer_key["correct"]
        return Scored(correct=ok, score=1.0 if ok else 0.0)
