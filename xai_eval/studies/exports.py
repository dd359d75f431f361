"""A study's data leaving the server: raw answers and results as rows, each export audited.

The admin area turns the rows into CSV/JSON downloads and ``xai-eval study export`` into a
file. Participants appear only by internal id and platform name: no platform ids.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from xai_eval.db.studies import Response, Study
from xai_eval.studies.analysis import study_results
from xai_eval.studies.audit import record_audit
from xai_eval.studies.monitoring import participants_with_answers

EXPORT_COLUMNS = (
    "study", "participant_id", "platform", "participant_status", "order_index", "trial_kind",
    "item_key", "condition", "image_id", "answer", "correct", "score", "rt_ms", "is_practice",
    "is_attention_check", "side_mapping", "created_at",
)


def export_responses(session: Session, study: Study, actor: str,
                     fmt: str = "csv") -> list[dict[str, Any]]:
    """Every stored answer as flat rows (columns :data:`EXPORT_COLUMNS`); audited."""
    rows = []
    for p in participants_with_answers(session, study):
        for t in p.trials:
            r: Response | None = t.response
            if r is None:
                continue
            rows.append({
                "study": study.slug, "participant_id": p.id, "platform": p.platform,
                "participant_status": p.status, "order_index": t.order_index,
                "trial_kind": t.kind, "item_key": t.item.key, "condition": t.item.condition,
                "image_id": t.item.image_id, "answer": r.answer, "correct": r.correct,
                "score": r.score, "rt_ms": r.rt_ms, "is_practice": r.is_practice,
                "is_attention_check": r.is_attention_check, "side_mapping": r.side_mapping,
                "created_at": r.created_at.isoformat() if r.created_at else None})
    record_audit(session, actor, "export", study, {"format": fmt, "rows": len(rows)})
    return rows


def export_results(session: Session, study: Study, actor: str,
                   fmt: str = "csv") -> list[dict[str, Any]]:
    """The per-condition statistics as flat rows (:meth:`StudyStatistics.rows`), then for a
    between-subjects study one row per explainer's utility against the control; every row
    carries the SHA-256 of the pre-registration it was analysed under. Audited."""
    from xai_eval.studies.catalog import task_for
    from xai_eval.studies.preregistration import preregistration_document

    rows = study_results(session, study).rows()
    if task_for(study).between_subjects:
        from xai_eval.studies.utility import study_utility

        rows += [{**u.as_dict(), "condition": f"utility:{u.condition}"}
                 for u in study_utility(session, study).utilities]
    registered = preregistration_document(study).sha256
    for row in rows:
        row["preregistration_sha256"] = registered
    record_audit(session, actor, "export", study, {"format": fmt, "what": "results",
                                                   "rows": len(rows)})
    return rows

