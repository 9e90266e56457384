"""trace context on content_jobs: the worker's run continues the submitting request's trace

Revision ID: 0607bc5b8547
Revises: 0607bc5b8546
Create Date: 2026-12-01 22:00:00

`trace_context` holds the W3C trace context (JSON) of the request that submitted the job,
written only while OpenTelemetry tracing is on (pressroom.tracing); NULL otherwise.

Online-safe: a nullable column with no default is a catalog-only change, taken under a
short lock_timeout (set by alembic/env.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0607bc5b8547"
down_revision: str | None = "0607bc5b8546"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("content_jobs", sa.Column("trace_context", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("content_jobs", "trace_context")
