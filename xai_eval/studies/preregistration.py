"""Pre-registration: the frozen definition, hypotheses, exclusion rules and analysis plan as
one document with its SHA-256.

The hypotheses and the analysis plan are the ``preregistration:`` section of the study file,
so they are part of the definition whose canonical hash the study row keeps: after the first
participant, ``study build`` refuses a file whose hypotheses, exclusion rules, analysis plan
or anything else changed (``--replace`` only works while nobody has started), and the
changed study needs a new version (a new slug, e.g. ``model_prediction-v2``). The document
is rendered from the *stored* definition, deterministically, so its hash identifies exactly
what was registered; the admin page shows it and the results exports carry it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from xai_eval.db.studies import Study


@dataclass(frozen=True)
class PreregistrationDocument:
    """The Markdown text and its SHA-256 (hex) — the hash a results file cites."""

    slug: str
    text: str
    sha256: str


def _exclusion_text(parameters: dict[str, Any]) -> str:
    rules = parameters.get("exclusion") or {}
    attention = float(rules.get("min_attention_pass", 1.0))
    rt = int(rules.get("min_median_rt_ms", 500))
    return (f"Participants are excluded when they pass fewer than {attention:.0%} of the "
            f"attention checks or their median response time is under {rt} ms. Only "
            "completed participants are analysed; practice/training trials and attention "
            "checks are never analysed.")


def _default_plan(task: Any) -> str:
    plan = getattr(task, "analysis_plan", None)
    return str(plan()) if callable(plan) else ""


def preregistration_document(study: Study) -> PreregistrationDocument:
    """The pre-registration of a built ``study`` (from its stored, frozen definition)."""
    from xai_eval.studies.catalog import task_for

    definition = dict(study.definition or {})
    parameters = dict(definition.get("parameters") or {})
    section = dict(definition.get("preregistration") or {})
    hypotheses = [str(h) for h in section.get("hypotheses") or []]
    frozen = json.dumps(definition, sort_keys=True, indent=2, ensure_ascii=False)
    lines = [
        f"# Pre-registration: {definition.get('title', study.slug)} (`{study.slug}`)",
        "",
        f"Task: `{definition.get('task')}`. Definition SHA-256: `{study.definition_hash}`.",
        "",
        "## Hypotheses",
        "",
        *([f"{n}. {h}" for n, h in enumerate(hypotheses, start=1)] or ["(none stated)"]),
        "",
        "## Exclusion rules",
        "",
        _exclusion_text(parameters),
        *([f"Additional: {section['exclusions']}"] if section.get("exclusions") else []),
        "",
        "## Analysis plan",
        "",
        _default_plan(task_for(study)),
        *([str(section["analysis_plan"])] if section.get("analysis_plan") else []),
        "",
        "## Frozen study definition",
        "",
        "```json",
        frozen,
        "```",
        "",
    ]
    text = "\n".join(lines)
    return PreregistrationDocument(study.slug, text,
                                   hashlib.sha256(text.encode("utf-8")).hexdigest())
