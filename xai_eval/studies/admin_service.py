"""The admin service: what researchers do with a study, for the admin area and the CLI.

- **accounts** (:mod:`xai_eval.studies.accounts`, the one place for admin accounts and
  their authentication): :func:`create_admin`, :func:`authenticate_admin`,
  :func:`admin_by_id`, :func:`create_or_update_admin`;
- **login and admin sessions** (:mod:`xai_eval.studies.login`,
  :mod:`xai_eval.studies.admin_sessions`): :func:`login_admin` (throttled, never sleeps),
  :func:`start_session`, :func:`admin_for_session`, :func:`end_session`,
  :func:`end_all_sessions` (server-side, revocable);
- **monitoring** (:mod:`xai_eval.studies.monitoring`): :func:`progress`,
  :func:`exclusions` under :class:`ExclusionRules`, :func:`set_study_status`,
  :func:`find_participant` (by platform id, hashed with the server's key);
  :func:`allow_reentry` (:mod:`xai_eval.studies.enrolment`: let one participant resume from
  a new platform session once);
- **results** (:mod:`xai_eval.studies.analysis`): :func:`study_results`; for
  between-subjects model-prediction studies :func:`study_utility`
  (:mod:`xai_eval.studies.utility`), the stored pilot (:func:`latest_pilot`) and the
  utility beside the automatic metrics (:func:`human_versus_automatic`);
- **pre-registration** (:mod:`xai_eval.studies.preregistration`):
  :func:`preregistration_document` (text + SHA-256);
- **exports** (:mod:`xai_eval.studies.exports`): :func:`export_responses`,
  :func:`export_results`;
- **audit** (:mod:`xai_eval.studies.audit`): :func:`record_audit`, :func:`recent_audit`;
- the suite's **metric results** for the same explainers and models
  (:mod:`xai_eval.studies.metric_results`): :func:`automatic_metrics`.

Functions that change or reveal something write an audit row and commit before returning;
errors are :class:`~xai_eval.studies.errors.StudyError` subclasses.
"""

from __future__ import annotations

from xai_eval.studies.accounts import (
    MAX_PASSWORD,
    MAX_USERNAME,
    AdminAccountError,
    admin_by_id,
    authenticate_admin,
    create_admin,
    create_or_update_admin,
)
from xai_eval.studies.admin_sessions import (
    admin_for_session,
    end_all_sessions,
    end_session,
    start_session,
)
from xai_eval.studies.analysis import StudyStatistics, study_results, study_statistics
from xai_eval.studies.audit import recent_audit, record_audit
from xai_eval.studies.catalog import get_study, list_studies
from xai_eval.studies.enrolment import allow_reentry
from xai_eval.studies.exports import EXPORT_COLUMNS, export_responses, export_results
from xai_eval.studies.login import login_admin
from xai_eval.studies.metric_results import MetricsTable, automatic_metrics
from xai_eval.studies.monitoring import (
    STUDY_STATUSES,
    ExclusionRules,
    ParticipantExclusion,
    ParticipantSummary,
    StudyProgress,
    exclusions,
    find_participant,
    progress,
    set_study_status,
)
from xai_eval.studies.pilot import PilotResult
from xai_eval.studies.platform import platform_id_key
from xai_eval.studies.preregistration import PreregistrationDocument, preregistration_document
from xai_eval.studies.utility import UtilityReport, study_utility
from xai_eval.studies.utility_admin import (
    HumanVersusAutomatic,
    StudyDesignPanel,
    design_panel,
    human_versus_automatic,
    latest_pilot,
)

__all__ = [
    "EXPORT_COLUMNS", "MAX_PASSWORD", "MAX_USERNAME", "STUDY_STATUSES", "AdminAccountError",
    "ExclusionRules", "MetricsTable", "ParticipantExclusion", "ParticipantSummary",
    "StudyProgress", "StudyStatistics", "admin_by_id", "admin_for_session", "allow_reentry",
    "authenticate_admin", "automatic_metrics", "create_admin", "create_or_update_admin",
    "end_all_sessions", "end_session", "exclusions", "login_admin", "start_session",
    "export_responses", "export_results", "find_participant", "get_study", "list_studies",
    "platform_id_key", "progress", "recent_audit", "record_audit", "set_study_status",
    "study_results", "study_statistics",
    "HumanVersusAutomatic", "PilotResult", "PreregistrationDocument", "StudyDesignPanel",
    "UtilityReport", "design_panel", "human_versus_automatic", "latest_pilot",
    "preregistration_document", "study_utility",
]
