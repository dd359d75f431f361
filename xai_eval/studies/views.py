"""What the participant service returns: plain, JSON-safe views without answer keys.

Re-exported by :mod:`xai_eval.studies.participant_service`; import them from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StartResult:
    """A started or resumed participant. ``token`` is the only credential; it is shown once
    (only its hash is stored), so a resume by platform id issues a fresh one."""

    participant_id: int
    token: str
    resumed: bool
    status: str


@dataclass(frozen=True)
class OptionView:
    value: str | int
    label: str


@dataclass(frozen=True)
class StimulusView:
    """One picture: fetch it with ``trial_stimulus(session, token, trial_id, position)``."""

    position: str
    caption: str


@dataclass(frozen=True)
class TrialView:
    """A trial as the participant sees it (JSON-safe via :meth:`as_dict`; no answer key).

    ``phase`` is ``"practice"`` or ``"trial"`` (attention checks look like trials).
    ``index`` counts from 0 over the whole sequence; ``total`` includes practice.
    """

    trial_id: str
    index: int
    total: int
    practice_total: int
    phase: str
    task: str
    response_kind: str
    question: str
    options: list[OptionView]
    stimuli: list[StimulusView]
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "done": False, "trial_id": self.trial_id, "index": self.index, "total": self.total,
            "practice_total": self.practice_total, "phase": self.phase, "task": self.task,
            "response_kind": self.response_kind, "question": self.question,
            "options": [{"value": o.value, "label": o.label} for o in self.options],
            "stimuli": [{"position": s.position, "caption": s.caption} for s in self.stimuli],
            "extra": dict(self.extra),
        }


@dataclass(frozen=True)
class Finished:
    """The participant has answered every trial; show the debrief and completion code."""

    completion_code: str
    redirect_url: str | None
    total: int

    def as_dict(self) -> dict[str, Any]:
        return {"done": True, "completion_code": self.completion_code,
                "redirect_url": self.redirect_url, "total": self.total}


@dataclass(frozen=True)
class SubmitOutcome:
    """What happened to an answer. ``stored`` is False for a repeated submit of an answered
    trial (the first answer is kept). ``feedback`` is set for practice trials only."""

    stored: bool
    trial_id: str
    feedback: str | None
    correct: bool | None
    answered: int
    total: int
    finished: bool
    completion_code: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class StimulusFile:
    data: bytes
    mime: str
