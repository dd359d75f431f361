"""Start or resume a participant from a platform visit — shared by the pages and the API.

Both entry points (the consent form and ``POST /api/studies/<slug>/sessions``) must enrol
exactly the same way: one serialised write through the study service, then the token and
the MTurk debrief values kept in the session cookie.
"""

from __future__ import annotations

from xai_eval.studies import service
from xai_eval.web import participant_session
from xai_eval.web.database import get_session, write_lock
from xai_eval.web.platforms import PlatformVisit
from xai_eval.web.study_errors import id_key, study_platform_ids


def enrol(slug: str, visit: PlatformVisit, *, clear_extras: bool) -> service.StartResult:
    """Start or resume ``visit``'s participant in study ``slug`` and remember the token.

    ``clear_extras``: a non-MTurk visit replaces stored MTurk debrief values with none (the
    API's rule) instead of keeping them (the consent page's rule).
    """
    db = get_session()
    study = service.get_study(db, slug)
    with write_lock():
        started = service.start_or_resume(db, study, study_platform_ids(visit),
                                          token=participant_session.token_for(slug),
                                          id_key=id_key())
    if visit.platform == "mturk":
        extra: dict[str, str] | None = {"assignmentId": visit.ids.get("assignmentId", ""),
                                        "submit_url": visit.mturk_submit_url or ""}
    else:
        extra = {} if clear_extras else None
    participant_session.remember(slug, started.token, extra)
    return started
