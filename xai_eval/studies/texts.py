"""What a participant reads: the consent, instructions and debrief texts, and the length.

A study file may give each text under ``texts:``, at the top level or in ``parameters``;
otherwise the defaults below are shown. The trial count and the time estimate come from
the study's parameters (``expected_minutes``, else 10 s per question), and a text may say
``{minutes}`` and ``{questions}`` so the consent and the page cannot disagree (they did:
10 minutes in the consent, 7 on the page). The sentence about practice questions follows
the task: feedback on right answers only where there are right answers, and a correct
plural ("The first 1 questions ... whether you answered correctly" was shown on a study
without right answers).
"""

from __future__ import annotations

from typing import Any

from xai_eval.db.studies import Study

DEFAULT_CONSENT = ("This is a research study about how people read visual explanations of "
                   "image classifiers. Taking part is voluntary and you may stop at any time. "
                   "We record your answers and response times; we store no personal data "
                   "beyond your platform id, kept as a keyed hash.")
DEFAULT_INSTRUCTIONS = "Look at the pictures of each question and answer it."
DEFAULT_DEBRIEF = ("Thank you for taking part. The pictures were explanations produced by "
                   "different methods; your answers help us learn which ones people understand.")
#: Seconds per trial assumed for the time estimate on the consent page.
SECONDS_PER_TRIAL = 10


def study_texts(study: Study) -> dict[str, Any]:
    """The participant pages' texts and counts (``consent_text``, ``instructions``,
    ``debrief``, ``trial_count``, ``practice_count``, ``practice_note``, ``minutes``)."""
    definition = study.definition or {}
    parameters = study.parameters
    texts = definition.get("texts") or {}

    def text(key: str, default: str) -> str:
        return str(texts.get(key) or definition.get(key) or parameters.get(key) or default)

    trials = int(parameters.get("trials_per_participant", 0) or 0)
    practice = int(parameters.get("practice_trials", 0) or 0)
    questions = trials + practice + int(parameters.get("attention_checks", 0) or 0)
    minutes = int(parameters.get("expected_minutes") or
                  max(1, round(questions * SECONDS_PER_TRIAL / 60)))

    def filled(key: str, default: str) -> str:
        return text(key, default).replace("{minutes}", str(minutes)).replace(
            "{questions}", str(questions))

    return {
        "consent_text": filled("consent", DEFAULT_CONSENT),
        "instructions": filled("instructions", DEFAULT_INSTRUCTIONS),
        "debrief": filled("debrief", DEFAULT_DEBRIEF),
        "trial_count": questions,
        "practice_count": practice,
        # what the first trials are: the study's own words (e.g. the training phase of a
        # model-prediction study), else a sentence that fits the task
        "practice_note": str(parameters.get("practice_note") or "")
        or practice_sentence(practice, _has_right_answers(study)),
        "minutes": minutes,
    }


def practice_sentence(practice: int, right_answers: bool) -> str:
    """What the instructions say about the first ``practice`` questions ('' for none)."""
    if practice <= 0:
        return ""
    first = "The first question is" if practice == 1 else f"The first {practice} questions are"
    if right_answers:
        return f"{first} practice: you will see whether you answered correctly."
    return f"{first} practice, to get used to the task; there are no right or wrong answers."


def _has_right_answers(study: Study) -> bool:
    """False for rating tasks (trust), whose answers are judgements, not right or wrong."""
    from xai_eval.studies.catalog import task_for

    return task_for(study).response_kind != "rating"
