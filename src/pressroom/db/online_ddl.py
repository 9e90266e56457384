"""DDL helpers for migrations that run against a busy production database.

Rules (docs/db-migrations.md): indexes on existing tables are built CONCURRENTLY outside
a transaction; every statement that needs a lock gives up after `LOCK_TIMEOUT` instead of
queueing behind a long transaction (and blocking everyone queued behind it); an index
left INVALID by an earlier failed run is dropped and rebuilt, because
`CREATE INDEX ... IF NOT EXISTS` would happily keep the broken one.
"""

from __future__ import annotations

from alembic import context, op
from sqlalchemy import text

LOCK_TIMEOUT = "5s"


def set_session_timeouts() -> None:
    """Called by alembic/env.py before any migration runs."""
    context.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
    # Concurrent index builds on big tables legitimately take minutes.
    context.execute("SET statement_timeout = 0")


def _online() -> bool:
    return not context.is_offline_mode()


def _index_is_valid(name: str) -> bool | None:
    """True/False for an existing index's validity, None when there is no such index."""
    row = (
        op.get_bind()
        .execute(
            text(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace"
            ),
            {"name": name},
        )
        .first()
    )
    return None if row is None else bool(row[0])


def _constraint_exists(table: str, name: str) -> bool:
    row = (
        op.get_bind()
        .execute(
            text(
                "SELECT 1 FROM pg_constraint WHERE conname = :name "
                "AND conrelid = CAST(:table AS regclass)"
            ),
            {"name": name, "table": table},
        )
        .first()
    )
    return row is not None


def create_index_concurrently(
    name: str, table: str, columns: str, *, unique: bool = False, where: str | None = None
) -> None:
    """CREATE [UNIQUE] INDEX CONCURRENTLY `name` ON `table` (`columns`) [WHERE `where`]."""
    with op.get_context().autocommit_block():
        if _online() and _index_is_valid(name) is False:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        kind = "UNIQUE INDEX" if unique else "INDEX"
        predicate = f" WHERE {where}" if where else ""
        op.execute(
            f"CREATE {kind} CONCURRENTLY IF NOT EXISTS {name} ON {table} ({columns}){predicate}"
        )


def drop_index_concurrently(name: str) -> None:
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


def add_unique_constraint_using_index(table: str, name: str) -> None:
    """Promote the (already built) unique index `name` to a constraint of the same name.

    Only a brief ACCESS EXCLUSIVE lock is taken: the index build happened concurrently.
    """
    if _online() and _constraint_exists(table, name):
        return
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}")


def drop_constraint(table: str, name: str) -> None:
    """Drop a constraint whose guarantee a unique index built just before still upholds."""
    op.execute(
        "-- squawk-ignore ban-drop-constraint\n"
        f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}"
    )
