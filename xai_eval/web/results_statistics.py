"""Statistics per condition for the admin page (filled from xai_eval.studies.statistics)."""

from __future__ import annotations

from typing import Any


def fill(results: Any, per_item: dict[str, list[float]]) -> None:
    for condition in results.conditions:
        values = condition.values
        condition.stats = {"mean": sum(values) / len(values) if values else None}


def notes(results: Any) -> list[str]:
    return []


def row(results: Any, condition: Any) -> dict[str, Any]:
    return {"condition": condition.condition, "participants": condition.participants,
            "answers": condition.n, **condition.stats}
