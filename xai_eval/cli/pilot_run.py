"""The work of ``xai-eval study pilot FILE``: simulated participants through the real app.

The study is built into a scratch SQLite database (the real one never sees simulated
participants); the web app is created on it and each model observer
(:mod:`xai_eval.studies.pilot`) takes the study through the participant JSON API with its
own Flask test client (own cookies, CSRF token and client address), exactly as a browser
would. The expected effect sizes and the participants each condition needs are printed and,
when the study is built in ``--db`` from the same definition, stored in its audit log so
the admin page shows them before the study opens.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path
from typing import Any


def scratch_pilot(file: Path, definition: Any, per_condition: int, seed: int, alpha: float,
                  power: float, noise: float, lapse: float) -> Any:
    """Build FILE into a scratch database, run the observers through the app, size it."""
    from rich.progress import Progress

    from xai_eval.db.base import make_engine, session_factory
    from xai_eval.studies.admin_service import get_study
    from xai_eval.studies.build import build_study
    from xai_eval.studies.catalog import task_for
    from xai_eval.studies.enrolment import seeded_enrolment
    from xai_eval.studies.pilot import run_pilot
    from xai_eval.studies.utility import study_utility
    from xai_eval.web.app import create_app
    from xai_eval.web.database import binding

    with tempfile.TemporaryDirectory(prefix="xai-eval-pilot-") as tmp, \
            Progress(transient=True) as bar:
        url = f"sqlite:///{Path(tmp) / 'pilot.db'}"
        rendering = bar.add_task("building the study (scratch database)", total=None)
        build_study(file, url, definition=definition,
                    progress=lambda d, t: bar.update(rendering, completed=d, total=t))
        engine = make_engine(url)
        factory = session_factory(engine)
        with factory() as session:
            conditions = len(getattr(task_for(get_study(session, definition.slug)),
                                     "conditions", []))
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(16),
                          "TESTING": True})
        app.instance_path = tmp
        clients = iter(range(1, 1 << 30))

        def new_client() -> Any:
            number = next(clients)
            client = app.test_client()
            client.environ_base["REMOTE_ADDR"] = f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"
            return client

        def report() -> Any:
            with factory() as session:
                return study_utility(session, get_study(session, definition.slug))

        taking = bar.add_task("simulated participants", total=per_condition * conditions)
        try:
            with seeded_enrolment(seed):  # the same command gives the same pilot
                return run_pilot(new_client, definition.slug, per_condition * conditions,
                                 report, seed=seed, alpha=alpha, power=power, noise=noise,
                                 lapse=lapse,
                                 progress=lambda d, t: bar.update(taking, completed=d, total=t))
        finally:
            binding(app).engine.dispose()
            engine.dispose()


def record_pilot(db_url: str | None, definition: Any, result: Any) -> str:
    """Store the pilot in the real database's audit log when the same study is built there."""
    from sqlalchemy import inspect, select

    from xai_eval.db.base import make_engine, session_factory
    from xai_eval.db.studies import Study
    from xai_eval.studies.admin_service import record_audit

    engine = make_engine(db_url)
    try:
        if not inspect(engine).has_table("study"):
            return "not stored: that database has no studies yet (build the study first)"
        with session_factory(engine)() as session:
            study = session.scalar(select(Study).where(Study.slug == definition.slug))
            if study is None:
                return f"not stored: study {definition.slug!r} is not built in that database"
            if study.definition_hash != definition.canonical_hash():
                return "not stored: the built study has a different definition"
            record_audit(session, "cli", "study_pilot", study,
                         {"definition_hash": study.definition_hash, **result.as_dict(),
                          "lines": result.lines()})
            return f"stored with study {definition.slug!r} (shown on its admin page)"
    finally:
        engine.dispose()
