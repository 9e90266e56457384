"""tenant row-level security, the non-owner runtime role, org_id on content_artifacts

Revision ID: 0607bc5b8542
Revises: 0607bc5b8544
Create Date: 2026-12-01 20:15:00

The application runs as `pressroom_app` (NOLOGIN, not the tables' owner, no BYPASSRLS): it
switches to it at the start of every transaction (`set_config('role', ..., true)`, which is
`SET LOCAL ROLE`). Every org-owned table has row-level security enabled and forced, with one
policy that admits a row only when its org is in the transaction's `pressroom.org_ids`, or
the transaction runs a named system duty (`pressroom.system`); both settings are
transaction-local and set only by pressroom.db.tenancy (docs/architecture.md).

Online-safe: the new column is nullable with no default (catalog-only); existing artifacts
are backfilled in committed batches; NOT NULL is proven by a NOT VALID check validated
afterwards (a scan under SHARE UPDATE EXCLUSIVE, which blocks no reads or writes), so
SET NOT NULL needs no scan of its own. ENABLE/FORCE ROW LEVEL SECURITY and CREATE POLICY are
catalog changes, under lock_timeout.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from pressroom.db.online_ddl import drop_constraint

revision: str = "0607bc5b8542"
down_revision: str | None = "0607bc5b8544"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "pressroom_app"
POLICY = "tenant_isolation"
# Every org-owned table and the column that names its org.
TENANT_TABLES = {
    "organizations": "id",
    "memberships": "org_id",
    "invitations": "org_id",
    "api_keys": "org_id",
    "subscriptions": "org_id",
    "usage_counters": "org_id",
    "content_jobs": "org_id",
    "content_artifacts": "org_id",
}
BACKFILL_BATCH = 5000
_BACKFILL = f"""
    UPDATE content_artifacts a SET org_id = j.org_id
    FROM content_jobs j
    WHERE a.id IN (SELECT id FROM content_artifacts WHERE org_id IS NULL
                   LIMIT {BACKFILL_BATCH} FOR UPDATE SKIP LOCKED)
      AND j.id = a.job_id
"""

# One home for "is this org in the transaction's scope"; STABLE and FROM-less, so the
# planner inlines it into each policy.
_IN_SCOPE = """
CREATE OR REPLACE FUNCTION pressroom_in_scope(org uuid) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT COALESCE(current_setting('pressroom.system', true), '') <> ''
        OR org = ANY (string_to_array(
               NULLIF(current_setting('pressroom.org_ids', true), ''), ',')::uuid[])
$$
"""

# An artifact's org is its job's: filled in by the database, so no writer can disagree.
_ARTIFACT_ORG = """
CREATE OR REPLACE FUNCTION pressroom_artifact_org() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    SELECT org_id INTO NEW.org_id FROM content_jobs WHERE id = NEW.job_id;
    RETURN NEW;
END
$$
"""


def _create_role() -> None:
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
                CREATE ROLE {ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
            END IF;
        END $$
        """
    )
    # Whoever runs the migrations (the owner) may switch to the runtime role; grant it to
    # the application's login role too if that is another role (docs/architecture.md).
    op.execute(f"GRANT {ROLE} TO CURRENT_USER")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ROLE}")
    # Tables later migrations create are the runtime role's to use as well.
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {ROLE}"
    )


def _backfill_artifact_orgs() -> None:
    if context.is_offline_mode():
        op.execute(f"-- repeated until it updates no row{_BACKFILL}")
        return
    with context.get_context().autocommit_block():
        bind = op.get_bind()
        # The owner is subject to the policies too (FORCE) on a re-run after they exist.
        bind.execute(sa.text("SELECT set_config('pressroom.system', 'migration', false)"))
        while bind.execute(sa.text(_BACKFILL)).rowcount:
            pass
        bind.execute(sa.text("SELECT set_config('pressroom.system', '', false)"))


def _artifact_org_is_nullable() -> bool:
    if context.is_offline_mode():
        return True
    return bool(
        op.get_bind()
        .execute(
            sa.text(
                "SELECT is_nullable = 'YES' FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'content_artifacts' "
                "AND column_name = 'org_id'"
            )
        )
        .scalar()
    )


def _prove_artifact_orgs_not_null() -> None:
    if not _artifact_org_is_nullable():
        return  # a re-run: done already
    check = "ck_content_artifacts_org_id_not_null"
    # Re-runnable: a run that failed after this commit finds the check and drops it below.
    op.execute(
        "-- squawk-ignore prefer-robust-stmts, ban-drop-constraint\n"
        f"ALTER TABLE content_artifacts DROP CONSTRAINT IF EXISTS {check}, "
        f"ADD CONSTRAINT {check} CHECK (org_id IS NOT NULL) NOT VALID"
    )
    with context.get_context().autocommit_block():
        # Its own transaction: the scan holds SHARE UPDATE EXCLUSIVE, blocking no writes.
        op.execute(
            "-- squawk-ignore prefer-robust-stmts\n"
            f"ALTER TABLE content_artifacts VALIDATE CONSTRAINT {check}"
        )
    # The validated check proves NOT NULL, so this needs no scan; the check is then spare.
    op.execute(
        "-- squawk-ignore prefer-robust-stmts\n"
        "ALTER TABLE content_artifacts ALTER COLUMN org_id SET NOT NULL"
    )
    drop_constraint("content_artifacts", check)


def upgrade() -> None:
    _create_role()
    op.add_column(
        "content_artifacts", sa.Column("org_id", sa.Uuid(), nullable=True), if_not_exists=True
    )
    op.execute(_ARTIFACT_ORG)
    op.execute("DROP TRIGGER IF EXISTS content_artifacts_org ON content_artifacts")
    op.execute(
        "CREATE TRIGGER content_artifacts_org BEFORE INSERT OR UPDATE OF job_id, org_id "
        "ON content_artifacts FOR EACH ROW EXECUTE FUNCTION pressroom_artifact_org()"
    )
    _backfill_artifact_orgs()
    _prove_artifact_orgs_not_null()
    op.execute(_IN_SCOPE)
    for table, column in TENANT_TABLES.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        op.execute(
            f"CREATE POLICY {POLICY} ON {table} "
            f"USING (pressroom_in_scope({column})) WITH CHECK (pressroom_in_scope({column}))"
        )


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION IF EXISTS pressroom_in_scope(uuid)")
    op.execute("DROP TRIGGER IF EXISTS content_artifacts_org ON content_artifacts")
    op.execute("DROP FUNCTION IF EXISTS pressroom_artifact_org()")
    op.drop_column("content_artifacts", "org_id")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM {ROLE}"
    )
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {ROLE}")
    # The role is the server's, not this database's: it stays while another database
    # (a clone, a second environment) still grants it anything.
    op.execute(
        f"""
        DO $$ BEGIN
            DROP ROLE IF EXISTS {ROLE};
        EXCEPTION WHEN dependent_objects_still_exist THEN NULL;
        END $$
        """
    )
