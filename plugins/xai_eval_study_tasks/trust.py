"""Trust (Grad-CAM §5.2): which of two models is more reliable, judged from explanations?"""

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

QUESTION = ("Both models predicted the category shown under their explanations. Based on the "
            "explanations, rate the reliability of Model 1 (left) relative to Model 2 (right).")
#: the paper's 5-point scale as one ordered row, left to right: the side a step leans to is
#: the model it favours ("Model 1" is always the one shown on the left, and the two
#: pictures stay side by side at every screen width). The paper words the negative steps
#: "Model 1 is slightly/clearly less reliable than Model 2"; the same judgement is worded
#: here from Model 2's side, so each label names the model it favours. Values are the paper's.
SCALE = (
    (2, "Model 1 clearly more reliable"),
    (1, "Model 1 slightly more reliable"),
    (0, "Equally reliable"),
    (-1, "Model 2 slightly more reliable"),
    (-2, "Model 2 clearly more reliable"),
)
SCALE_ENDS = ("← Model 1 (left) more reliable", "Model 2 (right) more reliable →")


class TrustTask(StudyTask):
    """Rate two models' reliability from their explanations side by side (+2 .. -2).

    Items: images where both models predict the true class; each listed explainer gives
    one item showing both models' maps for that class. The stronger model (parameter
    ``stronger_model``, the paper's VGG-16, or ``auto``: the more accurate on the
    study's images, measured at build) is "Model 1" (shown left) with p = 1/2
    (counterbalanced per item). The raw rating as shown and the side->model mapping are
    stored; the score is the rating recoded so that + means "the stronger model is more
    reliable".
    """

    name: ClassVar[str] = "trust"
    response_kind: ClassVar[str] = "rating"
    chance: ClassVar[float | None] = None

    def _models(self, context: Any = None) -> tuple[str, str]:
        """(stronger, weaker). ``stronger_model: auto`` measures top-1 accuracy of both
        models on the study's dataset (prediction among the annotated classes) at build."""
        from xai_eval.studies.errors import StudyDefinitionError

        names = [m.name for m in self.definition.models]
        if len(names) != 2:
            raise StudyDefinitionError(f"the trust task compares exactly two models; the "
                                       f"definition lists {len(names)}: {names}")
        stronger = getattr(self.parameters, "stronger_model", None) or names[0]
        if stronger == "auto":
            if context is None:
                raise StudyDefinitionError("stronger_model: auto is resolved at build time")
            scores = {name: self._accuracy(context, name) for name in names}
            stronger = max(names, key=lambda n: (scores[n], -names.index(n)))
        if stronger not in names:
            raise StudyDefinitionError(f"parameters.stronger_model {stronger!r} is not one of "
                                       f"the models {names} (or 'auto')")
        weaker = names[1] if stronger == names[0] else names[0]
        return stronger, weaker

    @staticmethod
    def _accuracy(context: Any, model: str) -> float:
        hits = [context.predict(model, i) in context.dataset[i].classes_present()
                for i in range(len(context.dataset))]
        return sum(hits) / max(1, len(hits))

    def plan_items(self, context: Any) -> list[ItemPlan]:
        stronger, weaker = self._models(context)
        rng = random.Random(self.parameters.seed)
        qualifying = []
        for index in range(len(context.dataset)):
            item = context.dataset[index]
            present = set(item.classes_present())
            a, b = context.predict(stronger, index), context.predict(weaker, index)
            if a == b and a in present:
                qualifying.append((index, item.image_id, a))
        rng.shuffle(qualifying)
        practice_n = self.parameters.practice_trials
        max_images = self.parameters.max_items or len(qualifying)
        explainers = [e.name for e in self.definition.explainers]
        plans = []
        for number, (index, image_id, cls) in enumerate(qualifying[: practice_n + max_images]):
            practice = number < practice_n
            kind = "practice" if practice else "main"
            for explainer in ([explainers[number % len(explainers)]] if practice else explainers):
                plans.append(ItemPlan(
                    key=f"{kind}:{image_id}:{cls}:{explainer}", kind=kind, condition=explainer,
                    image_id=image_id,
                    stimuli=[StimulusRequest(stronger, index, cls, explainer, stronger),
                             StimulusRequest(weaker, index, cls, explainer, weaker)],
                    payload={"question": QUESTION, "class_name": context.class_name(cls),
                             "stronger": stronger,
                             "provenance": {
                                 stronger: {"model": stronger, "explainer": explainer},
                                 weaker: {"model": weaker, "explainer": explainer}}},
                    answer_key={"stronger": stronger}))
        return plans

    def placement(self, payload: dict[str, Any], flip: bool) -> dict[str, Any]:
        stronger = payload["stronger"]
        weaker = next(r for r in sorted(payload["provenance"]) if r != stronger)
        left, right = (weaker, stronger) if flip else (stronger, weaker)
        return {"positions": {"left": left, "right": right}, "model_1": left}

    def present(self, payload: dict[str, Any], placement: dict[str, Any]) -> Presentation:
        caption = f"Prediction: {payload['class_name']}"
        return Presentation(
            question=payload.get("question", QUESTION),
            options=[Option(value, label) for value, label in SCALE],
            stimuli=[StimulusSlot("left", f"Model 1 (left) — {caption}"),
                     StimulusSlot("right", f"Model 2 (right) — {caption}")],
            response_kind="rating",
            extra={"scale_min": -2, "scale_max": 2, "scale_ends": list(SCALE_ENDS)})

    def score(self, answer_key: dict[str, Any], placement: dict[str, Any],
              answer: str | int) -> Scored:
        rating = int(answer)
        stronger_is_model_1 = placement["model_1"] == answer_key["stronger"]
        return Scored(correct=None, score=float(rating if stronger_is_model_1 else -rating))
