"""Scenarios of the model-prediction study: which of the model's cases people learn and are
tested on (Colin et al. 2022 test correct cases, failure cases and a biased model).

A scenario is a function ``(cases) -> cases`` over :class:`Case` records (one per dataset
image: the model's decision, whether it is right); it returns the cases the study may use,
in the order to use them. The list is open: :func:`register_scenario` adds one (a plugin
for a benchmark with a planted-bias model can register a scenario that keeps the images
where the bias cue and the object disagree), and ``parameters.scenario`` in the study file
names it. The planted-bias *model* itself is chosen like any model, by its ``spec``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xai_eval.studies.errors import StudyDefinitionError


@dataclass(frozen=True)
class Case:
    """One candidate image: the model's decision on it and whether it is right."""

    index: int
    image_id: str
    decision: int
    correct: bool


Scenario = Callable[[list[Case]], list[Case]]
_SCENARIOS: dict[str, Scenario] = {}


def register_scenario(name: str) -> Callable[[Scenario], Scenario]:
    """Decorator: make ``fn`` available as ``parameters.scenario: <name>``."""

    def decorate(fn: Scenario) -> Scenario:
        _SCENARIOS[name] = fn
        return fn

    return decorate


def scenario_names() -> list[str]:
    return sorted(_SCENARIOS)


def get_scenario(name: str) -> Scenario:
    """The registered scenario ``name``, or a clear error listing the available ones."""
    try:
        return _SCENARIOS[name]
    except KeyError:
        raise StudyDefinitionError(f"parameters.scenario {name!r} is not registered; "
                                   f"available: {', '.join(scenario_names())}") from None


@register_scenario("correct")
def correct_cases(cases: list[Case]) -> list[Case]:
    """Only images the model classifies correctly."""
    return [c for c in cases if c.correct]


@register_scenario("failure")
def failure_cases(cases: list[Case]) -> list[Case]:
    """Only the model's failures (its decision is not a class in the image)."""
    return [c for c in cases if not c.correct]


@register_scenario("mixed")
def mixed_cases(cases: list[Case]) -> list[Case]:
    """Correct and failure cases alternating (as many of each as the rarer allows, then the
    rest), so both kinds are in training and test and "always the visible object" is no
    shortcut (Hase & Bansal 2020: balanced data)."""
    right = [c for c in cases if c.correct]
    wrong = [c for c in cases if not c.correct]
    out = []
    for a, b in zip(right, wrong, strict=False):
        out += [a, b]
    n = min(len(right), len(wrong))
    return out + right[n:] + wrong[n:]


@register_scenario("all")
def all_cases(cases: list[Case]) -> list[Case]:
    """Every image, in the study's seeded order (the model's natural mix of cases)."""
    return list(cases)
