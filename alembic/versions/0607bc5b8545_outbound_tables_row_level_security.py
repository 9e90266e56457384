"""row-level security on the outbound tables: webhook endpoints, their attempts, the outbox

Revision ID: 0607bc5b8545
Revises: 0607bc5b8542
Create Date: 2026-12-01 22:00:00

The same `tenant_isolation` policy as every org-owned table (0607bc5b8542), on the tables
the outbox added (0607bc5b8543). An outbox message with no org (a password-reset or
verification e-mail, written by a request that has no org scope) may be written by anyone
and read only under a system duty: `pressroom_in_scope(NULL)` is true only there. The
delivery loop runs under the `outbox` duty (docs/architecture.md).

Catalog-only statements, under lock_timeout.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0607bc5b8545"
down_revision: str | None = "0607bc5b8542"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POLICY = "tenant_isolation"
# table -> the policy's WITH CHECK (its USING is always pressroom_in_scope(org_id)).
OUTBOUND_TABLES = {
    "webhook_endpoints": "pressroom_in_scope(org_id)",
    "webhook_attempts": "pressroom_in_scope(org_id)",
    "outbox_messages": "org_id IS NULL OR pressroom_in_scope(org_id)",
}


def upgrade() -> None:
    op.execute("SET lock_timeout = '5s'")
    for table, check in OUTBOUND_TABLES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        op.execute(
            f"CREATE POLICY {POLICY} ON {table} "
            f"USING (pressroom_in_scope(org_id)) WITH CHECK ({check})"
        )


def downgrade() -> None:
    op.execute("SET lock_timeout = '5s'")
    for table in reversed(OUTBOUND_TABLES):
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
