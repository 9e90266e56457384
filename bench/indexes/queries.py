"""The queries the application issues, and parameter values drawn from the bench data.

Each pattern is measured with many different parameter values (different orgs, users,
jobs, events), never one cached value; big-org patterns cycle over the big orgs.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg

from bench.indexes.datagen import BIG_ORGS, Sizes, event_key

Params = dict[str, Any]

_NEWEST_50 = """SELECT id, status, kind, created_at FROM content_jobs
WHERE org_id = %(org)s ORDER BY created_at DESC, id DESC LIMIT 50"""

# One org's counts by status: counted from its jobs before head, read from the kept
# counts at head (what GET .../jobs/counts runs).
_COUNTED = "SELECT status, count(*) FROM content_jobs WHERE org_id = %(org)s GROUP BY status"
_KEPT_COUNTS = "SELECT status, sum(n) FROM job_status_counts WHERE org_id = %(org)s GROUP BY status"

_DEDUPE = """INSERT INTO billing_events (id, provider, provider_event_id, type, payload)
VALUES (%(id)s, %(provider)s, %(event)s, 'invoice.paid', '{{}}')
ON CONFLICT ({target}) DO NOTHING"""


@dataclass(frozen=True)
class Pattern:
    key: str
    label: str
    seed_row: str  # the seed's "Query Pattern" this measures ("" for patterns it left out)
    seed_expected: str
    seed_top: float | None  # top of the seed's range, the target for the speedup
    sql: str
    params: str  # key into the parameter sets
    expected_index: str | None  # the index the plan must use at head
    sql_before: str | None = None  # when the statement cannot be the same before

    def statement(self, phase: str) -> str:
        return self.sql_before if phase == "before" and self.sql_before else self.sql


PATTERNS: tuple[Pattern, ...] = (
    Pattern(
        "membership",
        "Membership of (org, user)",
        "Membership lookups by org/user",
        "10-100x",
        100,
        "SELECT role FROM memberships WHERE org_id = %(org)s AND user_id = %(user)s",
        "membership",
        "idx_memberships_org_user",
    ),
    Pattern(
        "subscription",
        "Live subscription of an org (by status)",
        "Subscription filtering by org/status",
        "5-50x",
        50,
        "SELECT id, plan, status FROM subscriptions WHERE org_id = %(org)s "
        "AND status IN ('trialing', 'active', 'past_due') "
        "ORDER BY created_at DESC LIMIT 1",
        "org",
        "idx_subscriptions_org_status",
    ),
    Pattern(
        "usage",
        "Usage counter of (org, month)",
        "Usage counter lookups by org/period",
        "10-100x",
        100,
        "SELECT jobs_used FROM usage_counters WHERE org_id = %(org)s AND period_month = %(month)s",
        "usage",
        "idx_usage_counters_org_period",
    ),
    Pattern(
        "newest_typical",
        "Newest 50 jobs, typical org",
        "Job listing by org (newest first)",
        "5-20x",
        20,
        _NEWEST_50,
        "org",
        "idx_content_jobs_org_created_desc",
    ),
    Pattern(
        "newest_big",
        "Newest 50 jobs, big org (page 1)",
        "Job listing by org (newest first)",
        "5-20x",
        20,
        _NEWEST_50,
        "big_org",
        "idx_content_jobs_org_created_desc",
    ),
    Pattern(
        "keyset_deep",
        "Keyset page deep in a big org",
        "Job listing by org (newest first)",
        "5-20x",
        20,
        """SELECT id, status, kind, created_at FROM content_jobs
WHERE org_id = %(org)s AND (created_at, id) < (%(created_at)s, %(id)s)
ORDER BY created_at DESC, id DESC LIMIT 50""",
        "keyset",
        "idx_content_jobs_org_created_desc",
    ),
    Pattern(
        "queue_head",
        "Queue head: 10 oldest runnable queued",
        "Job filtering by status",
        "2-10x",
        10,
        "SELECT id FROM content_jobs WHERE status = 'queued' AND run_after <= now() "
        "ORDER BY priority DESC, run_after LIMIT 10",
        "none",
        # The queue's partial index (0607bc5b8540) holds only queued rows.
        "idx_content_jobs_queue",
    ),
    Pattern(
        "counts_org",
        "Job counts by status, typical org",
        "Job filtering by status",
        "2-10x",
        10,
        _KEPT_COUNTS,
        "org",
        # Kept counts (0607bc5b8549): a few rows by the org's index, at any org size.
        "idx_job_status_counts_org",
        sql_before=_COUNTED,
    ),
    Pattern(
        "counts_big",
        "Job counts by status, big org",
        "Job filtering by status",
        "2-10x",
        10,
        _KEPT_COUNTS,
        "big_org",
        "idx_job_status_counts_org",
        sql_before=_COUNTED,
    ),
    Pattern(
        "counts_all",
        "Job counts by status, all orgs",
        "Job filtering by status",
        "2-10x",
        10,
        "SELECT status, count(*) FROM content_jobs GROUP BY status",
        "none",
        None,
    ),
    Pattern(
        "dedupe",
        "Webhook dedupe insert of a known event",
        "Webhook deduplication",
        "prevents duplicates",
        None,
        _DEDUPE.format(target="provider, provider_event_id"),
        "event",
        "uq_billing_events_provider_event_id",
        sql_before=_DEDUPE.format(target="provider_event_id"),
    ),
    Pattern(
        "artifacts",
        "Artifacts of a job by type",
        "",
        "existing index",
        None,
        "SELECT id, media_type, size_bytes FROM content_artifacts "
        "WHERE job_id = %(job)s AND type = %(type)s",
        "artifact",
        "idx_content_artifacts_job_type",
    ),
    Pattern(
        "email",
        "User by email (login)",
        "",
        "existing index",
        None,
        "SELECT id, password_hash FROM users WHERE email = %(email)s",
        "email",
        "ix_users_email",
    ),
)

# The same events through the other phase's conflict target: each fails by design.
CROSS_CHECKS = {
    "before": _DEDUPE.format(target="provider, provider_event_id"),
    "after": _DEDUPE.format(target="provider_event_id"),
}


def keyset_depth(sizes: Sizes) -> int:
    """Page number (of 50 rows) measured deep in a big org: 2,000, or the deepest there is."""
    per_big_org = sizes.content_jobs * 0.25 / BIG_ORGS
    return max(1, min(2000, int(per_big_org * 0.9) // 50))


def _sample(
    conn: psycopg.Connection[Any], table: str, columns: str, k: int, seed: int
) -> list[tuple[Any, ...]]:
    """About 4k rows by a repeatable Bernoulli sample, in a stable order."""
    row = conn.execute(f"SELECT reltuples FROM pg_class WHERE relname = '{table}'").fetchone()
    estimate = max(float(row[0]) if row else 1.0, 1.0)
    percent = min(100.0, 100.0 * 4 * k / estimate)
    return conn.execute(
        f"SELECT {columns} FROM {table} TABLESAMPLE BERNOULLI ({percent}) "
        f"REPEATABLE ({seed}) ORDER BY id"
    ).fetchall()


def sample_params(url: str, sizes: Sizes, *, k: int, seed: int) -> dict[str, list[Params]]:
    """`k` parameter sets per pattern (fewer for big orgs), the same for both phases."""
    rng = random.Random(seed)
    with psycopg.connect(url, autocommit=True) as conn:
        big = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM organizations ORDER BY created_at LIMIT %s", (BIG_ORGS,)
            )
        ]
        orgs = [r[0] for r in _sample(conn, "organizations", "id", k, seed) if r[0] not in big]
        orgs = rng.sample(orgs, min(k, len(orgs)))
        members = conn.execute(
            "SELECT DISTINCT ON (org_id) org_id, user_id FROM memberships "
            "WHERE org_id = ANY(%s) ORDER BY org_id, user_id",
            (orgs,),
        ).fetchall()
        months = [
            r[0]
            for r in conn.execute("SELECT DISTINCT period_month FROM usage_counters ORDER BY 1")
        ]
        depth = keyset_depth(sizes)
        cursors = []
        for org in big:
            row = conn.execute(
                "SELECT created_at, id FROM content_jobs WHERE org_id = %s "
                "ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1",
                (org, depth * 50 - 1),
            ).fetchone()
            if row:
                cursors.append({"org": org, "created_at": row[0], "id": row[1]})
        artifacts = _sample(conn, "content_artifacts", "job_id, type", k, seed)
        emails = _sample(conn, "users", "email", k, seed)
    events = [event_key(rng.randint(1, sizes.billing_events)) for _ in range(k)]
    return {
        "none": [{}],
        "org": [{"org": o} for o in orgs],
        "big_org": [{"org": o} for o in big],
        "membership": [{"org": m[0], "user": m[1]} for m in members],
        "usage": [{"org": o, "month": rng.choice(months)} for o in orgs],
        "keyset": cursors,
        "event": [
            {"id": uuid.UUID(int=rng.getrandbits(128)), "provider": p, "event": e}
            for p, e in events
        ],
        "artifact": [
            {"job": a[0], "type": a[1]} for a in rng.sample(artifacts, min(k, len(artifacts)))
        ],
        "email": [{"email": e[0]} for e in rng.sample(emails, min(k, len(emails)))],
    }
