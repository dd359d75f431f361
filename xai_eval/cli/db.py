"""``xai-eval db upgrade``: create or migrate the database schema."""

from __future__ import annotations

import click

from xai_eval.cli.options import DB_HELP


@click.group("db")
def db_group() -> None:
    """Create or migrate the database schema (Alembic migrations in migrations/)."""


@db_group.command("upgrade")
@click.option("--db", "db_url", default=None, help=DB_HELP)
@click.option("--revision", default="heads", show_default=True, help="Target revision.")
def db_upgrade(db_url: str | None, revision: str) -> None:
    """Apply every migration up to REVISION (creates the schema in an empty database)."""
    from xai_eval.db.base import DatabaseError, database_url
    from xai_eval.db.migrate import current_revisions, upgrade

    url = database_url(db_url)
    try:
        before = current_revisions(url)
        upgrade(url, revision)
        after = current_revisions(url)
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    where = url.split("@")[-1]
    applied = sorted(after - before)
    if applied:
        click.echo(f"database {where}: applied {', '.join(applied)}; now at "
                   f"{', '.join(sorted(after))}")
    else:
        click.echo(f"database {where} is up to date (at {', '.join(sorted(after)) or 'base'})")
