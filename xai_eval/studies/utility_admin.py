"""What the admin page shows of a model-prediction study beyond its accuracies: the stored
pilot, and the human utility beside the automatic metrics of the same explainers.

**Human beside automatic.** Each explainer's utility (accuracy gain over the control) sits
in one row with the suite's mean of every metric for that explainer on the study's models;
per metric, Spearman's rho across explainers with its Fisher-z 95% interval and n
(:func:`xai_eval.stats.correlation_with_interval`). With a handful of explainers the
interval is what matters: n <= 3 gives none, and below :data:`MIN_EXPLAINERS` the page
warns that the correlation cannot say anything.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xai_eval.db.studies import AuditLog, Study
from xai_eval.stats import correlation_with_interval
from xai_eval.studies.metric_results import metric_means
from xai_eval.studies.utility import UtilityReport

#: Fewer explainers than this and a correlation across them says nothing (warned).
MIN_EXPLAINERS = 5


def latest_pilot(session: Session, study: Study) -> dict[str, Any] | None:
    """The newest pilot stored for this exact definition (``xai-eval study pilot --db``)."""
    rows = session.scalars(select(AuditLog).where(AuditLog.study_id == study.id,
                                                  AuditLog.action == "study_pilot")
                           .order_by(AuditLog.id.desc()))
    for row in rows:
        if (row.details or {}).get("definition_hash") == study.definition_hash:
            return {"at": row.at, **row.details}
    return None


@dataclass
class HumanVersusAutomatic:
    """Rows (explainer, utility, one column per metric), correlations, warnings."""

    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    correlations: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    message: str = ""


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def human_versus_automatic(session: Session, study: Study,
                           report: UtilityReport) -> HumanVersusAutomatic:
    """Utility per explainer beside the automatic metrics, with correlations across them."""
    utilities = {u.condition: u.utility for u in report.utilities}
    if not utilities:
        return HumanVersusAutomatic(message="No utility yet (needs completed participants in "
                                            "an explainer condition and in the control).")
    means = metric_means(session, study)
    if isinstance(means, str):
        return HumanVersusAutomatic(message=means)
    by_metric: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (explainer, _model, metric), (mean, _n) in means.items():
        by_metric[metric][explainer].append(mean)
    metrics = sorted(by_metric)
    explainers = sorted(utilities)
    table = HumanVersusAutomatic(headers=["explainer", "utility", *metrics])

    def metric_value(metric: str, explainer: str) -> float | None:
        values = by_metric[metric].get(explainer)
        return sum(values) / len(values) if values else None

    for explainer in explainers:
        table.rows.append([explainer, f"{utilities[explainer]:+.3f}",
                           *[_fmt(metric_value(m, explainer), 4) for m in metrics]])
    for metric in metrics:
        corr = correlation_with_interval([utilities[e] for e in explainers],
                                         [metric_value(metric, e) for e in explainers])
        table.correlations.append({"metric": metric, "rho": corr.rho, "low": corr.low,
                                   "high": corr.high, "n": corr.n,
                                   "text": f"{metric}: Spearman rho {_fmt(corr.rho, 2)} "
                                           f"[{_fmt(corr.low, 2)}, {_fmt(corr.high, 2)}], "
                                           f"n = {corr.n} explainers"})
    n = len(explainers)
    if n < MIN_EXPLAINERS:
        table.warnings.append(
            f"only {n} explainer{'s' if n != 1 else ''} with a utility: a correlation across "
            f"so few says nothing{' (no interval for n <= 3)' if n <= 3 else ''}; at least "
            f"{MIN_EXPLAINERS} are needed before reading it")
    return table


@dataclass
class StudyDesignPanel:
    """The admin page's pre-registration, pilot and utility section of one study."""

    preregistration_sha256: str
    pilot: dict[str, Any] | None = None
    utility: UtilityReport | None = None
    human: HumanVersusAutomatic | None = None


def design_panel(session: Session, study: Study) -> StudyDesignPanel:
    """Pre-registration hash for every study; for between-subjects (model-prediction)
    studies also the stored pilot, the utility report and human beside automatic."""
    from xai_eval.studies.catalog import task_for
    from xai_eval.studies.preregistration import preregistration_document
    from xai_eval.studies.utility import study_utility

    panel = StudyDesignPanel(preregistration_document(study).sha256)
    if task_for(study).between_subjects:
        panel.pilot = latest_pilot(session, study)
        panel.utility = study_utility(session, study)
        panel.human = human_versus_automatic(session, study, panel.utility)
    return panel
