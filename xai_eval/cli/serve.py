"""The study server's commands: ``serve`` and ``admin create|find-participant``.

Every command takes ``--db URL`` (else ``XAI_EVAL_DATABASE_URL``, else ``xai-eval.db`` in
the working directory).
"""

from __future__ import annotations

import contextlib
import sys

import click

from xai_eval.cli.options import DB_HELP


@click.command("serve")
@click.option("--db", "db_url", default=None, help=DB_HELP)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; use 0.0.0.0 only behind a TLS reverse proxy.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port (0: any free port, printed at start).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Worker threads of the waitress server.")
@click.option("--connection-limit", default=1000, show_default=True,
              type=click.IntRange(10, 10000),
              help="Open connections accepted at once (each participant's browser keeps one "
                   "alive; waitress's own default of 100 stalls larger studies).")
@click.option("--insecure-cookies", is_flag=True,
              help="Send cookies over plain HTTP (local testing without TLS only).")
@click.option("--samesite", type=click.Choice(["Lax", "Strict", "None"]), default="Lax",
              show_default=True,
              help="SameSite of the session cookie. MTurk shows the study in a cross-site "
                   "iframe, where browsers send only SameSite=None (HTTPS) cookies.")
@click.option("--trusted-proxy", default=None,
              help="Address of the reverse proxy whose X-Forwarded-* headers to trust.")
@click.option("--upgrade/--no-upgrade", "migrate", default=True, show_default=True,
              help="Bring the schema to the newest migration first (locked, so servers and "
                   "builds starting together are safe); --no-upgrade for a database user "
                   "without DDL rights.")
@click.option("--instance-dir", default=None, type=click.Path(file_okay=False),
              help="Folder of the server's own files (the generated secret key). Default: "
                   "$XAI_EVAL_INSTANCE_DIR, else the user data folder (~/.local/share/xai-eval).")
def serve(db_url: str | None, host: str, port: int, threads: int, connection_limit: int,
          insecure_cookies: bool,
          samesite: str, trusted_proxy: str | None, migrate: bool,
          instance_dir: str | None) -> None:
    """Run the study web app with the waitress production server.

    Participants open /study/<slug>/ (Prolific and MTurk parameters are read from the URL);
    researchers log in at /admin/ (create an account with `xai-eval admin create`). The
    schema is upgraded first, under the same lock as `xai-eval db upgrade`.
    """
    from waitress.server import create_server

    from xai_eval.db.base import DatabaseError, database_url
    from xai_eval.web.app import create_app, env_config

    config = {"DATABASE_URL": database_url(db_url), "SESSION_COOKIE_SAMESITE": samesite}
    if instance_dir:
        config["INSTANCE_DIR"] = instance_dir
    if insecure_cookies:
        config["SESSION_COOKIE_SECURE"] = False
    try:
        if migrate:
            from xai_eval.db.migrate import upgrade

            upgrade(config["DATABASE_URL"])
        app = create_app(env_config() | config)
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    # Load the plugin registries (explainers import torch) now, not on the first
    # participant's request, which would otherwise wait seconds.
    from xai_eval.plugins import default_registries

    default_registries()
    options: dict[str, object] = {"host": host, "port": port, "threads": threads,
                                  "connection_limit": connection_limit,
                                  "ident": "xai-eval", "clear_untrusted_proxy_headers": True}
    if trusted_proxy:
        options.update(trusted_proxy=trusted_proxy,
                       trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto",
                                              "x-forwarded-host"})
    server = create_server(app, **options)
    click.echo(f"xai-eval serving http://{host}:{server.effective_port}/ "  # type: ignore[union-attr]
               f"(database {config['DATABASE_URL'].split('@')[-1]}, instance folder "
               f"{app.instance_path})", err=True)
    sys.stderr.flush()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop
        server.run()


@click.group("admin")
def admin_group() -> None:
    """Administer the study server: the accounts that may log in to /admin/, and finding a
    participant by platform id (with the server's key)."""


@admin_group.command("create")
@click.argument("username")
@click.option("--db", "db_url", default=None, help=DB_HELP)
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin (for scripts).")
def admin_create(username: str, db_url: str | None, password_stdin: bool) -> None:
    """Create admin USERNAME, or set a new password if it exists (stored as a hash)."""
    from xai_eval.studies.admin_service import AdminAccountError, create_or_update_admin

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        created = create_or_update_admin(db_url, username, password)
    except AdminAccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"admin {username!r} {'created' if created else 'password updated'}")


@admin_group.command("find-participant")
@click.argument("slug")
@click.argument("platform_id")
@click.option("--db", "db_url", default=None, help=DB_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--instance-dir", default=None, type=click.Path(file_okay=False),
              help="The server's --instance-dir, if it was given one (where its secret key is).")
def admin_find_participant(slug: str, platform_id: str, db_url: str | None,
                           as_json: bool, instance_dir: str | None) -> None:
    """Find the participant of study SLUG whose Prolific PID or MTurk workerId is PLATFORM_ID.

    For support requests and withdrawals: prints the participant's internal id (the one in
    exports), status, progress and completion code. The id is hashed exactly as the server
    hashes it, with the key of the same configuration: run it with the server's
    XAI_EVAL_ID_KEY / XAI_EVAL_SECRET_KEY (or the same --instance-dir, where the server keeps
    its generated secret key).
    The lookup is written to the audit log; exit status 1 when nobody matches.
    """
    import json

    from sqlalchemy.exc import OperationalError, ProgrammingError

    from xai_eval.db.base import make_engine, session_factory
    from xai_eval.errors import XaiEvalError
    from xai_eval.studies import admin_service
    from xai_eval.web.app import server_config

    overrides = {"DATABASE_URL": db_url} if db_url else {}
    if instance_dir:
        overrides["INSTANCE_DIR"] = instance_dir
    config = server_config(overrides)
    try:
        key = admin_service.platform_id_key(config)
        engine = make_engine(config["DATABASE_URL"])
    except XaiEvalError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        with session_factory(engine)() as session:
            study = admin_service.get_study(session, slug)
            found = admin_service.find_participant(session, study, platform_id, key, "cli")
    except XaiEvalError as exc:
        raise click.ClickException(str(exc)) from None
    except (OperationalError, ProgrammingError) as exc:
        if "study" not in str(exc):
            raise click.ClickException(str(exc.orig)) from None
        raise click.ClickException("this database has no study tables; run "
                                   "`xai-eval db upgrade` first") from None
    finally:
        engine.dispose()
    if found is None:
        click.echo(f"no participant of {slug!r} has this platform id (with this server key)",
                   err=True)
        sys.exit(1)
    fields = {k: (v.isoformat() if hasattr(v, "isoformat") else v)
              for k, v in found.__dict__.items()}
    if as_json:
        click.echo(json.dumps(fields, indent=2))
        return
    for key_name, value in fields.items():
        click.echo(f"{key_name}: {value if value is not None else '-'}")

