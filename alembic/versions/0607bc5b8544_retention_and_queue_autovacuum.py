"""retention marker on content_jobs, its index, and autovacuum tuned for the queue's churn

Revision ID: 0607bc5b8544
Revises: 0607bc5b8543
Create Date: 2026-12-01 20:40:00

Retention (pressroom.jobs.retention) blanks a finished job's input and deletes its artifacts
once the org's plan stops keeping them; `content_pruned_at` says it happened, and the
partial index finds what is left to prune per org, oldest first, without visiting pruned or
unfinished rows.

Autovacuum: every job row is updated several times in its life (queued, running, each
heartbeat, finished) and the claim walks a partial index of queued rows. With the defaults
(vacuum at 20 % dead rows) a 10-million-row table carries two million dead versions before
a vacuum, and the claim's index scan steps over their entries (the queue work measured
claims slowing down exactly so). Vacuuming at 1 % (+1,000 rows) with no cost delay keeps
the dead tail short; analyze at 2 % keeps the planner's picture of the queued/running
split fresh. Artifacts churn by retention's deletes: vacuum them at 5 %.

Online-safe: the column is nullable with no default (catalog-only, under lock_timeout);
the index is built CONCURRENTLY; storage parameters take a SHARE UPDATE EXCLUSIVE lock,
which does not block reads or writes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pressroom.db.online_ddl import create_index_concurrently, drop_index_concurrently

revision: str = "0607bc5b8544"
down_revision: str | None = "0607bc5b8543"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JOBS_AUTOVACUUM = {
    "autovacuum_vacuum_scale_factor": "0.01",
    "autovacuum_vacuum_threshold": "1000",
    "autovacuum_vacuum_insert_scale_factor": "0.05",
    "autovacuum_analyze_scale_factor": "0.02",
    "autovacuum_vacuum_cost_delay": "0",
}
ARTIFACTS_AUTOVACUUM = {"autovacuum_vacuum_scale_factor": "0.05"}


def _set(table: str, params: dict[str, str]) -> None:
    values = ", ".join(f"{k} = {v}" for k, v in params.items())
    # Setting storage parameters twice is harmless, so a rerun after a failure is safe.
    op.execute(f"-- squawk-ignore prefer-robust-stmts\nALTER TABLE {table} SET ({values})")


def _reset(table: str, params: dict[str, str]) -> None:
    op.execute(
        f"-- squawk-ignore prefer-robust-stmts\nALTER TABLE {table} RESET ({', '.join(params)})"
    )


def upgrade() -> None:
    op.add_column(
        "content_jobs",
        sa.Column("content_pruned_at", sa.DateTime(timezone=True), nullable=True),
        if_not_exists=True,
    )
    _set("content_jobs", JOBS_AUTOVACUUM)
    _set("content_artifacts", ARTIFACTS_AUTOVACUUM)
    create_index_concurrently(
        "idx_content_jobs_prunable",
        "content_jobs",
        "org_id, finished_at",
        where="content_pruned_at IS NULL AND finished_at IS NOT NULL",
    )


def downgrade() -> None:
    drop_index_concurrently("idx_content_jobs_prunable")
    _reset("content_artifacts", ARTIFACTS_AUTOVACUUM)
    _reset("content_jobs", JOBS_AUTOVACUUM)
    op.drop_column("content_jobs", "content_pruned_at")
