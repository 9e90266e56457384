"""Run Alembic programmatically: upgrade, downgrade, offline SQL and its squawk lint."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from pressroom.db.url import to_sqlalchemy_url

PROJECT_ROOT = Path(__file__).resolve().parents[3]
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"

# Alembic creates its own bookkeeping table (VARCHAR(32), no IF NOT EXISTS); the rules it
# breaks are for our tables, so that one statement is exempted in place, not the rules.
_ALEMBIC_VERSION_TABLE = "CREATE TABLE alembic_version (\n    version_num VARCHAR(32)"


def alembic_config(url: str | None = None, *, stdout: io.StringIO | None = None) -> Config:
    cfg = Config(str(ALEMBIC_INI), stdout=stdout or sys.stdout)
    cfg.attributes["skip_logging_config"] = True
    if url is not None:
        cfg.attributes["url"] = to_sqlalchemy_url(url)
    return cfg


@lru_cache
def heads() -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_heads(conn: Connection) -> tuple[str, ...]:
    """The revisions the database is at (none before the first migration), read without
    Alembic's MigrationContext, which logs two INFO lines per call (/readyz calls it often)."""
    if conn.scalar(text("SELECT to_regclass('alembic_version')")) is None:
        return ()
    return tuple(conn.scalars(text("SELECT version_num FROM alembic_version")))


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def offline_sql(revision_range: str = "base:head") -> str:
    buffer = io.StringIO()
    cfg = alembic_config(stdout=buffer)
    cfg.output_buffer = buffer
    command.upgrade(cfg, revision_range, sql=True)
    exempted = (
        "-- squawk-ignore prefer-robust-stmts\nCREATE TABLE alembic_version (\n"
        "    -- squawk-ignore prefer-text-field\n    version_num VARCHAR(32)"
    )
    return buffer.getvalue().replace(_ALEMBIC_VERSION_TABLE, exempted)


def squawk(sql: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("squawk") or str(Path(sys.executable).with_name("squawk"))
    return subprocess.run(  # noqa: S603 - fixed executable, SQL on stdin
        [exe, "--stdin-filepath", "migrations.sql", "--pg-version", "15.0"],
        input=sql,
        capture_output=True,
        text=True,
        check=False,
    )
