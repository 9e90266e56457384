"""job_status_counts: each org's job counts by status, kept by the database as jobs change

Revision ID: 0607bc5b8549
Revises: 0607bc5b8548
Create Date: 2026-12-03 07:30:00

Counting an org's jobs, even from an index alone, reads one entry per job: 155 ms for an
org of 30k at the index benchmark's scale 1, and it only grows. So the counts are kept
instead, as delta rows: a statement-level trigger on content_jobs appends, per statement,
one row per (org, status) whose count it changed (+1s for inserts, -1/+1 for status
changes, -1s for deletes). Appending never waits for another writer, unlike one counter
row per (org, status) that every claim and every finish of that org would queue on. The
read sums an org's rows; the worker's maintenance folds them back to one row per status
(pressroom.jobs.status_counts.compact), so an org has a handful of rows at any size.

Online-safe, without blocking writers for the length of a count:
1. the table, its policy and the triggers are created and committed (catalog changes,
   under lock_timeout; CREATE TRIGGER waits for writers in flight, so every write that
   commits afterwards records its delta);
2. the base counts are inserted by one statement that counts content_jobs and subtracts
   the deltas already recorded, both in that statement's one snapshot: what it inserts is
   exactly the state before step 1, whatever commits meanwhile. Re-running it inserts
   nothing, so a run that failed between the steps can simply be repeated;
3. idx_content_jobs_org_status (0607bc5b8546), which only served the old count, is
   dropped concurrently: one index fewer to write on every status change.

The table has no foreign key to organizations on purpose: a key check on every delta row
would put a lookup of the org on the queue's hot path. A deleted org's rows are unreadable
(no scope can name it) and compaction deletes them.
"""

from collections.abc import Sequence

from alembic import context, op

from pressroom.db.online_ddl import create_index_concurrently, drop_index_concurrently

revision: str = "0607bc5b8549"
down_revision: str | None = "0607bc5b8548"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POLICY = "tenant_isolation"
# One function for the three triggers: PL/pgSQL plans each branch when it first runs, so
# an INSERT's call never touches the OLD TABLE its trigger does not have.
_COUNT_JOBS = """
CREATE OR REPLACE FUNCTION pressroom_count_jobs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO job_status_counts (org_id, status, n)
        SELECT org_id, status, count(*) FROM new_jobs GROUP BY org_id, status;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO job_status_counts (org_id, status, n)
        SELECT org_id, status, sum(n) FROM (
            SELECT org_id, status, -1 AS n FROM old_jobs
            UNION ALL
            SELECT org_id, status, 1 FROM new_jobs
        ) AS changed
        GROUP BY org_id, status HAVING sum(n) <> 0;
    ELSE
        INSERT INTO job_status_counts (org_id, status, n)
        SELECT org_id, status, -count(*) FROM old_jobs GROUP BY org_id, status;
    END IF;
    RETURN NULL;
END
$$
"""
# trigger -> (event, its transition tables)
_TRIGGERS = {
    "content_jobs_count_inserts": ("INSERT", "NEW TABLE AS new_jobs"),
    "content_jobs_count_updates": ("UPDATE", "OLD TABLE AS old_jobs NEW TABLE AS new_jobs"),
    "content_jobs_count_deletes": ("DELETE", "OLD TABLE AS old_jobs"),
}
# Step 2: the counts before the triggers existed, from one snapshot (see above).
_BACKFILL = """
INSERT INTO job_status_counts (org_id, status, n)
SELECT org_id, status, sum(n) FROM (
    SELECT org_id, status, count(*) AS n FROM content_jobs GROUP BY org_id, status
    UNION ALL
    SELECT org_id, status, -sum(n) FROM job_status_counts GROUP BY org_id, status
) AS base
GROUP BY org_id, status HAVING sum(n) <> 0
"""


def _backfill() -> None:
    with context.get_context().autocommit_block():
        # Its own transaction, after the triggers are committed. The owner is subject to
        # the policy too (FORCE): it needs a duty to see every org's rows.
        op.execute("SELECT set_config('pressroom.system', 'migration', false)")
        op.execute(_BACKFILL)
        op.execute("SELECT set_config('pressroom.system', '', false)")


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS job_status_counts (
            id bigint GENERATED ALWAYS AS IDENTITY,
            org_id uuid NOT NULL,
            status text NOT NULL,
            n bigint NOT NULL,
            CONSTRAINT pk_job_status_counts PRIMARY KEY (id)
        )
        -- Every fold deletes rows: vacuum after a thousand, not after a fifth of the table.
        WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000)
        """
    )
    # Built with the table, while it is empty (CONCURRENTLY has nothing to spare anyone).
    op.execute(
        "CREATE INDEX IF NOT EXISTS idx_job_status_counts_org "
        "ON job_status_counts (org_id, status) INCLUDE (n)"
    )
    # Both are no-ops when already so: a re-run is safe.
    for switch in ("ENABLE", "FORCE"):
        op.execute(
            "-- squawk-ignore prefer-robust-stmts\n"
            f"ALTER TABLE job_status_counts {switch} ROW LEVEL SECURITY"
        )
    op.execute(f"DROP POLICY IF EXISTS {POLICY} ON job_status_counts")
    op.execute(
        f"CREATE POLICY {POLICY} ON job_status_counts "
        "USING (pressroom_in_scope(org_id)) WITH CHECK (pressroom_in_scope(org_id))"
    )
    op.execute(_COUNT_JOBS)
    for name, (event, tables) in _TRIGGERS.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON content_jobs")
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON content_jobs REFERENCING {tables} "
            "FOR EACH STATEMENT EXECUTE FUNCTION pressroom_count_jobs()"
        )
    _backfill()
    drop_index_concurrently("idx_content_jobs_org_status")


def downgrade() -> None:
    create_index_concurrently("idx_content_jobs_org_status", "content_jobs", "org_id, status")
    for name in reversed(_TRIGGERS):
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON content_jobs")
    op.execute("DROP FUNCTION IF EXISTS pressroom_count_jobs()")
    op.execute("DROP TABLE IF EXISTS job_status_counts")
