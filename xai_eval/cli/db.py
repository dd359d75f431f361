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
    from xai_eval.db.migrate import upgrade

    try:
        upgrade(database_url(db_url), revision)
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"database at {database_url(db_url).split('@')[-1]} is at {revision}")
