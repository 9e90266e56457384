"""trace context on outbox_messages: a delivery continues the trace of what it announces

Revision ID: 0607bc5b8548
Revises: 0607bc5b8547
Create Date: 2026-12-02 01:00:00

`trace_context` holds the W3C trace context (JSON) current when the delivery was written:
a job outcome's is its job's (the submitting request's trace), an e-mail's or a ping's is
its request's. Written only while OpenTelemetry tracing is on (pressroom.tracing); NULL
otherwise.

Online-safe: a nullable column with no default is a catalog-only change, taken under a
short lock_timeout (set by alembic/env.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0607bc5b8548"
down_revision: str | None = "0607bc5b8547"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox_messages", sa.Column("trace_context", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox_messages", "trace_context")
