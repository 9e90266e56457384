"""Read a database's schema from the catalogs, in a form two databases can be compared by."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from pressroom.db.url import to_libpq_url


@dataclass(frozen=True)
class IndexInfo:
    name: str
    table: str
    columns: tuple[str, ...]  # as written in the definition, e.g. "created_at DESC"
    unique: bool
    valid: bool
    constraint: str | None  # name of the constraint the index backs, if any
    definition: str


INDEXES_SQL = """
SELECT ic.relname AS name, tc.relname AS table, i.indisunique, i.indisvalid, con.conname,
       pg_get_indexdef(i.indexrelid) AS definition,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS columns,
       ARRAY(SELECT (i.indoption[k - 1] & 1) = 1
             FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS descending
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_namespace n ON n.oid = tc.relnamespace
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x')
WHERE n.nspname = 'public'
ORDER BY ic.relname
"""


def indexes(url: str) -> dict[str, IndexInfo]:
    with psycopg.connect(to_libpq_url(url)) as conn:
        rows = conn.execute(INDEXES_SQL).fetchall()
    result = {}
    for name, table, unique, valid, constraint, definition, columns, descending in rows:
        cols = tuple(
            f"{c} DESC" if desc else c for c, desc in zip(columns, descending, strict=True)
        )
        result[name] = IndexInfo(name, table, cols, unique, valid, constraint, definition)
    return result


SCHEMA_SQL = {
    "columns": """
        SELECT table_name, column_name, data_type, is_nullable, column_default
        FROM information_schema.columns WHERE table_schema = 'public'
        ORDER BY table_name, column_name""",
    "constraints": """
        SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = 'public' ORDER BY 1, 2""",
    "indexes": """
        SELECT indexname, indexdef FROM pg_indexes
        WHERE schemaname = 'public' ORDER BY indexname""",
}


def snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Everything the migrations define, excluding Alembic's own version table."""
    with psycopg.connect(to_libpq_url(url)) as conn:
        return {
            key: [
                row for row in conn.execute(query).fetchall() if "alembic_version" not in str(row)
            ]
            for key, query in SCHEMA_SQL.items()
        }


# A non-unique index is redundant when another index on the same table starts with the
# same key columns (same order, same direction) under the same predicate.
REDUNDANT_INDEXES_SQL = """
WITH idx AS (
    SELECT i.indexrelid, i.indrelid, i.indisunique,
           i.indkey::text AS keys, i.indoption::text AS opts,
           pg_get_expr(i.indpred, i.indrelid) AS pred,
           pg_get_expr(i.indexprs, i.indrelid) AS exprs,
           i.indnkeyatts
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
)
SELECT a.indexrelid::regclass::text AS redundant, b.indexrelid::regclass::text AS covered_by
FROM idx a JOIN idx b ON a.indrelid = b.indrelid AND a.indexrelid <> b.indexrelid
WHERE (
    -- exact duplicates (unique or not): same keys, options, expressions and predicate
    (a.keys = b.keys AND a.opts = b.opts AND a.exprs IS NOT DISTINCT FROM b.exprs
     AND a.pred IS NOT DISTINCT FROM b.pred AND a.indexrelid > b.indexrelid)
    OR
    -- a non-unique index whose keys are a strict prefix of another's
    (NOT a.indisunique AND a.exprs IS NULL AND b.exprs IS NULL
     AND a.indnkeyatts < b.indnkeyatts
     AND (b.keys || ' ') LIKE (a.keys || ' %')
     AND (b.opts || ' ') LIKE (a.opts || ' %')
     AND a.pred IS NOT DISTINCT FROM b.pred)
)
"""


def redundant_indexes(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(to_libpq_url(url)) as conn:
        return [tuple(r) for r in conn.execute(REDUNDANT_INDEXES_SQL).fetchall()]  # type: ignore[misc]
