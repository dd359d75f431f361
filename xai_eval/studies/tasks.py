"""The study-task plugin contract: what a kind of human study must define.

A task (registered with ``xai_eval_register_study_tasks``) decides

- which items qualify and what is rendered for them (:meth:`StudyTask.plan_items`),
- how a trial is placed for one participant (left/right, option order:
  :meth:`StudyTask.placement`),
- what the participant sees (:meth:`StudyTask.present`; never the key),
- how an answer is validated and scored (:meth:`StudyTask.score`).

Practice and attention-check items are built here for every task: practice items are
ordinary items set aside (shown first, with feedback); attention checks are
*instructed-response* items ("please select ...") that reuse a stimulus, so they look like
trials but have one obviously right answer whatever the visualization shows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from xai_eval.studies.errors import AnswerError

if TYPE_CHECKING:  # pragma: no cover
    from xai_eval.studies.build import BuildContext
    from xai_eval.studies.definition import StudyDefinition

#: Longest accepted answer (characters of its JSON form); larger ones are rejected unread.
MAX_ANSWER_CHARS = 64


__all__ = ["AnswerError", "ItemPlan", "Option", "Presentation", "Scored", "StimulusRequest",
           "StimulusSlot", "StudyTask"]


@dataclass(frozen=True)
class StimulusRequest:
    """A picture build must render: the explanation of ``class_id`` by ``explainer`` on
    ``model`` (``explainer=None``: the plain image)."""

    role: str
    image_index: int
    class_id: int
    explainer: str | None
    model: str
    #: a box (x1, y1, x2, y2 as fractions of width/height) covered with the image's mean
    #: colour before rendering: the changed input of a counterfactual simulation
    cover: tuple[float, float, float, float] | None = None


@dataclass
class ItemPlan:
    """One item as a task plans it, before its stimuli are rendered."""

    key: str
    kind: str  # "main" | "practice" | "attention"
    condition: str
    image_id: str
    stimuli: list[StimulusRequest]
    payload: dict[str, Any]
    answer_key: dict[str, Any]


@dataclass(frozen=True)
class Option:
    """One answer option as displayed: the value submitted and the label shown."""

    value: str | int
    label: str


@dataclass(frozen=True)
class StimulusSlot:
    """One picture on the trial page: its screen position and caption (no provenance)."""

    position: str  # "center", "left", "right"
    caption: str


@dataclass(frozen=True)
class Presentation:
    """What a trial page shows; contains no answer key and no provenance."""

    question: str
    options: list[Option]
    stimuli: list[StimulusSlot]
    response_kind: str  # "choice" | "rating"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scored:
    """Result of scoring one answer: correctness (None when there is no right answer) and
    the value the statistics use (1/0, or a recoded rating)."""

    correct: bool | None
    score: float | None


class StudyTask:
    """Base class of study tasks; subclasses set ``name`` and implement the hooks below."""

    name: ClassVar[str] = ""
    response_kind: ClassVar[str] = "choice"
    #: accuracy expected by guessing (None for rating tasks)
    chance: ClassVar[float | None] = None
    #: conditions between subjects: each participant is given one condition (the least
    #: filled so far) and sees only that condition's practice (training) and main items
    between_subjects: ClassVar[bool] = False
    #: practice (training) images and main (test) images must be disjoint: ``study build``
    #: refuses a definition whose test images overlap its training images
    disjoint_phases: ClassVar[bool] = False

    def __init__(self, definition: StudyDefinition) -> None:
        self.definition = definition
        self.parameters = definition.parameters

    # --- what a plugin implements -----------------------------------------------------
    def plan_items(self, context: BuildContext) -> list[ItemPlan]:
        """Main and practice items for this study (attention checks are added by the base)."""
        raise NotImplementedError

    def placement(self, payload: dict[str, Any], flip: bool) -> dict[str, Any]:
        """The participant-specific layout of an item; ``flip`` is the counterbalancing bit
        (alternates across the item's successive presentations)."""
        raise NotImplementedError

    def present(self, payload: dict[str, Any], placement: dict[str, Any]) -> Presentation:
        """What the page shows for this item under ``placement``."""
        raise NotImplementedError

    def score(self, answer_key: dict[str, Any], placement: dict[str, Any],
              answer: str | int) -> Scored:
        """Score a validated answer."""
        raise NotImplementedError

    def feedback(self, payload: dict[str, Any], answer_key: dict[str, Any],
                 placement: dict[str, Any], scored: Scored) -> str:
        """The practice-trial feedback text (shown only after a practice answer)."""
        if scored.correct is None:
            return "Thank you. There is no right or wrong answer; give your honest judgement."
        if scored.correct:
            return "Correct."
        label = answer_key.get("label", answer_key.get("correct"))
        return f"Not quite: the right answer was “{label}”."

    def analysis_plan(self) -> str:
        """The analysis this task's results get (the pre-registration document quotes it)."""
        if self.response_kind == "rating":
            return ("Per condition: mean recoded rating with a participant-cluster bootstrap "
                    "95% CI (seeded) and a Wilcoxon signed-rank test of per-participant means "
                    "against 0; Fleiss' kappa; Mann-Whitney U between conditions.")
        return ("Per condition: accuracy with a Wilson 95% CI and an exact two-sided binomial "
                f"test against chance ({self.chance}); Fleiss' kappa; Mann-Whitney U between "
                "conditions on per-participant accuracies.")

    # --- shared by every task -----------------------------------------------------------
    def validate_answer(self, presentation: Presentation, answer: Any) -> str | int:
        """The answer if it is one of the displayed option values, else :class:`AnswerError`."""
        if isinstance(answer, bool) or not isinstance(answer, str | int):
            raise AnswerError(
                f"answer must be one option value (string or integer), got {type(answer).__name__}")
        if len(repr(answer)) > MAX_ANSWER_CHARS:
            raise AnswerError(f"answer is longer than {MAX_ANSWER_CHARS} characters")
        values = [option.value for option in presentation.options]
        for value in values:
            if value == answer or (isinstance(value, int) and isinstance(answer, str)
                                   and answer.strip().lstrip("+") == str(value).lstrip("+")):
                return value
        raise AnswerError(f"answer {answer!r} is not one of the options {values}")

    def attention_plans(self, mains: list[ItemPlan], count: int,
                        rng: random.Random) -> list[ItemPlan]:
        """Instructed-response attention checks reusing stimuli of ``count`` main items."""
        plans = []
        for index, base in enumerate(rng.sample(mains, min(count, len(mains)))):
            probe = self.present(base.payload, self.placement(base.payload, False))
            target = probe.options[index % len(probe.options)]
            payload = dict(base.payload)
            payload["question"] = (
                f"This is an attention check: please ignore the picture and select "
                f"“{target.label}”.")
            plans.append(ItemPlan(
                key=f"attention:{index}:{base.key}", kind="attention", condition="attention",
                image_id=base.image_id, stimuli=base.stimuli, payload=payload,
                answer_key={"correct": target.value, "label": target.label}))
        return plans

    def score_attention(self, answer_key: dict[str, Any], answer: str | int) -> Scored:
        """An attention check is passed when the instructed option was chosen."""
        ok = answer == answer_key["correct"]
        return Scored(correct=ok, score=1.0 if ok else 0.0)
