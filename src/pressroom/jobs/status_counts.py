"""Folding job_status_counts back to one row per (org, status).

The trigger on content_jobs (0607bc5b8549) appends a delta row per statement that changes
an org's counts; left alone, a busy org's rows would grow with its traffic, and so would
the read. Each pass folds the orgs that gained rows since the last pass: their rows are
deleted and their sums inserted, in one statement, so a read in between sees either the
old rows or the new ones (the same totals). A delta committed meanwhile is a row this
statement's snapshot did not see: it is left for the next pass, never lost.

One pass at a time across every worker process (a transaction-level advisory lock, tried
and not waited for), so two passes never delete the same rows in different orders.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

# Watermark: rows above `since` are new, and name the orgs to look at. A row whose id was
# drawn before the watermark but committed after it is missed by the watermark passes;
# every `FULL_PASS_EVERY`-th pass looks at every org. Either way only an org with more rows
# than statuses is rewritten: a folded org costs an index read, not a delete and an insert.
FULL_PASS_EVERY = 60
_LOCK = "SELECT pg_try_advisory_xact_lock(hashtext('pressroom.job_status_counts'))"
_FOLD = text(
    """
    WITH recent AS (
        SELECT id, org_id FROM job_status_counts WHERE id > :since
    ),
    touched AS (
        SELECT org_id FROM job_status_counts
        WHERE org_id IN (SELECT org_id FROM recent)
        GROUP BY org_id HAVING count(*) > count(DISTINCT status)
    ),
    gone AS (
        DELETE FROM job_status_counts c USING touched t
        WHERE c.org_id = t.org_id
        RETURNING c.org_id, c.status, c.n
    ),
    folded AS (
        INSERT INTO job_status_counts (org_id, status, n)
        SELECT org_id, status, sum(n) FROM gone
        GROUP BY org_id, status HAVING sum(n) <> 0
        RETURNING id
    )
    SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM folded),
           greatest((SELECT max(id) FROM recent), (SELECT max(id) FROM folded))
    """
)


@dataclass
class Compactor:
    """Per process: where the last pass ended, and how many passes since a full one."""

    since: int = 0
    passes: int = 0

    def compact(self, conn: Connection) -> int:
        """One pass in `conn`'s transaction (which must run a system duty that reaches every
        org); the number of rows it removed, 0 when another process holds the pass."""
        if not conn.exec_driver_sql(_LOCK).scalar():
            return 0
        since = 0 if self.passes % FULL_PASS_EVERY == 0 else self.since
        self.passes += 1
        row = conn.execute(_FOLD, {"since": since}).one()
        removed, inserted, last = int(row[0]), int(row[1]), row[2]
        if last is not None:
            self.since = max(self.since, int(last))
        return removed - inserted
