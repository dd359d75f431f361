"""What a participant reads: the consent, instructions and debrief texts, and the length.

A study file may give each text under ``texts:``, at the top level or in ``parameters``;
otherwise the defaults below are shown. The trial count and the time estimate (10 s per
trial) come from the study's parameters.
"""

from __future__ import annotations

from typing import Any

from xai_eval.db.studies import Study

DEFAULT_CONSENT = ("This is a research study about how people read visual explanations of "
                   "image classifiers. Taking part is voluntary and you may stop at any time. "
                   "We record your answers and response times; we store no personal data "
                   "beyond your platform id, kept as a keyed hash.")
DEFAULT_INSTRUCTIONS = "Look at each picture and answer the question below it."
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
    return {
        "consent_text": text("consent", DEFAULT_CONSENT),
        "instructions": text("instructions", DEFAULT_INSTRUCTIONS),
        "debrief": text("debrief", DEFAULT_DEBRIEF),
        "trial_count": trials + practice + int(parameters.get("attention_checks", 0) or 0),
        "practice_count": practice,
        # what the first trials are, when they are not practice with feedback (e.g. the
        # training phase of a model-prediction study)
        "practice_note": str(parameters.get("practice_note") or ""),
        "minutes": max(1, round((trials + practice) * SECONDS_PER_TRIAL / 60)),
    }
