"""Option help shared by several command modules (one wording for one option)."""

from __future__ import annotations

DB_HELP = ("Database URL (default: $XAI_EVAL_DATABASE_URL, else sqlite:///xai-eval.db). "
           "PostgreSQL: postgresql+psycopg://user@host:5432/name")
