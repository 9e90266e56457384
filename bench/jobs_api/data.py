"""Bench rows for the jobs API, generated inside PostgreSQL (no row crosses the wire).

Same idea as `bench.indexes.datagen`: `INSERT ... SELECT generate_series(...)` in one
session seeded with `setseed()`, UUIDv7-shaped ids derived from an md5 of a key, so one
seed gives the same rows. The history ends at the start of the current UTC month, so this
month's quota holds only what the bench itself submits (and the quota-edge prefill).

Shape: `jobs` content jobs over the 12 months before that, four per timestamp (ties on
created_at are common, so pagination's id tie-breaker is exercised), each with an article
of 2k-10k characters as input (5.6k on average; it compresses well, so the table stays
small, but the API would still read and decode all of it). Org 1 (the big org)
owns 15%, orgs 2-4 5% each, the rest follow a power law over `jobs // 100` orgs.
Org 2 is where submissions go, org 3 is the quota-edge org (`prefill_edge` brings it
near its limit just before that phase). Every org has an active
subscription (the bench orgs' plans come from the plans file the server is given), an API
key and 12 months of usage counters, so those lookups run on tables of realistic size.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import date

import psycopg

from bench.indexes.datagen import org_functions, organizations_insert
from pressroom.api_keys.service import API_KEY_PREFIX, VISIBLE_PREFIX_LENGTH
from pressroom.hashed_secrets import hash_secret, new_secret

BIG_SHARE = 0.15
MID_SHARE = 0.05
MID_ORGS = 3
TIE_GROUP = 4
BACKLOG_SHARE = 0.03
BENCH_PLAN = "bench"
EDGE_PLAN = "bench_edge"
KINDS = ("summary", "key_points", "seo", "social_posts", "full_pack")


@dataclass(frozen=True)
class Shape:
    jobs: int
    orgs: int
    edge_quota: int = 50_000

    @classmethod
    def for_jobs(cls, jobs: int) -> Shape:
        if jobs < 100:
            raise ValueError("--jobs must be at least 100")
        return cls(jobs=jobs, orgs=max(10, jobs // 100))

    def plans_toml(self) -> str:
        kinds = ", ".join(f'"{k}"' for k in KINDS)
        common = f"max_concurrent_jobs = 20\nallowed_kinds = [{kinds}]\nmax_priority = 10\n"
        return (
            f"[plans.{BENCH_PLAN}]\nmonthly_quota = 1000000000\n{common}\n"
            f"[plans.{EDGE_PLAN}]\nmonthly_quota = {self.edge_quota}\n{common}"
        )


@dataclass
class Fixture:
    """What the load generator needs: the orgs, their API keys, how the data came out."""

    big_org: uuid.UUID
    submit_org: uuid.UUID
    edge_org: uuid.UUID
    api_keys: dict[uuid.UUID, str]
    big_org_jobs: int
    period: date
    loads: list[tuple[str, int, float]] = field(default_factory=list)


def _subscriptions(shape: Shape) -> str:
    return f"""
    INSERT INTO subscriptions (id, org_id, provider, provider_customer_id,
        provider_subscription_id, plan, status, current_period_start, current_period_end,
        state_as_of, created_at, updated_at)
    SELECT pg_temp.v7('subscription:' || n, ts), pg_temp.org_id(n), 'stripe',
           'cus_bench_' || n, 'sub_bench_' || n,
           CASE n WHEN 3 THEN '{EDGE_PLAN}' WHEN 1 THEN '{BENCH_PLAN}'
                  WHEN 2 THEN '{BENCH_PLAN}' ELSE 'pro' END,
           'active', date_trunc('month', now()), date_trunc('month', now()) + interval '1 month',
           ts, ts, ts
    FROM (SELECT n, pg_temp.org_ts(n) + interval '1 day' AS ts
          FROM generate_series(1, {shape.orgs}) n) a"""


def _api_keys(shape: Shape) -> str:
    # Every org has a key (never presented: the bench's own keys are made in _principal),
    # so the key lookup runs on a table of realistic size.
    return f"""
    INSERT INTO api_keys (id, org_id, name, prefix, secret_hash, scopes, created_at)
    SELECT pg_temp.v7('key:' || n, ts), pg_temp.org_id(n), 'production',
           'prk_' || substr(md5('prefix:' || n), 1, 8), encode(sha256(('key:' || n)::bytea), 'hex'),
           ARRAY['jobs:read', 'jobs:write'], ts
    FROM (SELECT n, pg_temp.org_ts(n) + interval '2 days' AS ts
          FROM generate_series(1, {shape.orgs}) n) a"""


def _usage_counters(shape: Shape) -> str:
    # The 12 months of history the quota upsert left behind (this month starts empty).
    return f"""
    INSERT INTO usage_counters (id, org_id, period_month, jobs_used, created_at, updated_at)
    SELECT pg_temp.v7('usage:' || n || ':' || k, month), pg_temp.org_id(n), month::date,
           floor(random() * 500)::bigint, month, month
    FROM generate_series(12, 1, -1) k
    CROSS JOIN LATERAL (SELECT date_trunc('month', now()) - make_interval(months => k::int)
                               AS month) m
    CROSS JOIN generate_series(1, {shape.orgs}) n"""


def _content_jobs(shape: Shape) -> str:
    j, o = shape.jobs, shape.orgs
    step = 365 * 86400 / j
    backlog_from = round(j * (1 - BACKLOG_SHARE))
    mid_end = BIG_SHARE + MID_ORGS * MID_SHARE
    first_tail = 2 + MID_ORGS
    kinds = ", ".join(f"'{k}'" for k in KINDS)
    return f"""
    INSERT INTO content_jobs (id, org_id, kind, input, status, priority, attempts,
        max_attempts, run_after, lease_token, leased_by, lease_expires_at, error, started_at,
        finished_at, quota_period, created_at, updated_at)
    SELECT pg_temp.v7('job:' || i, ts), pg_temp.org_id(org), kind,
           jsonb_build_object('text', 'Article ' || i || '. ' || repeat(
                              'A generated sentence about the topic, with a few words. ',
                              36 + i % 144)),
           status, priority, CASE WHEN status = 'queued' THEN 0 ELSE 1 END, 3, ts,
           CASE WHEN status = 'running' THEN pg_temp.v7('lease:' || i, ts) END,
           CASE WHEN status = 'running' THEN 'worker-' || (i % 4) END,
           CASE WHEN status = 'running' THEN ts + interval '2 minutes' END,
           CASE WHEN status = 'failed' THEN 'engine error: upstream timeout' END,
           CASE WHEN status <> 'queued' THEN ts + interval '2 seconds' END,
           CASE WHEN status IN ('succeeded', 'failed', 'canceled')
                THEN ts + interval '30 seconds' END,
           date_trunc('month', ts)::date, ts,
           CASE WHEN status IN ('succeeded', 'failed', 'canceled')
                THEN ts + interval '30 seconds' ELSE ts END
    FROM (
      SELECT i,
             date_trunc('month', now()) - interval '365 days'
               + make_interval(secs => (i / {TIE_GROUP}) * {TIE_GROUP * step}) AS ts,
             CASE WHEN r_org < {BIG_SHARE} THEN 1
                  WHEN r_org < {mid_end}
                    THEN 2 + floor((r_org - {BIG_SHARE}) / {MID_SHARE})::bigint
                  ELSE {first_tail} + floor(({o} - {first_tail - 1}) * power(r_skew, 3))::bigint
             END AS org,
             (ARRAY[{kinds}])[1 + floor(r_kind * {len(KINDS)})::int] AS kind,
             CASE WHEN r_pri < 0.9 THEN 0 ELSE 5 END AS priority,
             CASE WHEN i > {backlog_from} THEN
                    CASE WHEN r_status < 0.60 THEN 'queued' WHEN r_status < 0.70 THEN 'running'
                         WHEN r_status < 0.95 THEN 'succeeded' ELSE 'failed' END
                  ELSE
                    CASE WHEN r_status < 0.96 THEN 'succeeded' WHEN r_status < 0.985
                         THEN 'failed' ELSE 'canceled' END
             END AS status
      FROM (
        SELECT i, random() AS r_org, random() AS r_skew, random() AS r_kind,
               random() AS r_pri, random() AS r_status
        FROM generate_series(1, {j}) i
        OFFSET 0
      ) a
    ) b"""


def prefill_edge(url: str, org_id: uuid.UUID, *, quota: int, headroom: int) -> int:
    """Bring the quota-edge org to `headroom` units short of its limit: jobs accepted this
    month and the counter that matches them. Returns how many units are now used."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT coalesce(max(jobs_used), 0) FROM usage_counters"
            " WHERE org_id = %s AND period_month = date_trunc('month', now())::date",
            (org_id,),
        ).fetchone()
        used = int(row[0]) if row else 0
        add = max(0, quota - headroom - used)
        with conn.transaction():
            conn.execute(
                """
                INSERT INTO content_jobs (id, org_id, kind, input, status, attempts,
                    started_at, finished_at, quota_period, created_at, updated_at)
                SELECT gen_random_uuid(), %(org)s, 'summary',
                       jsonb_build_object('text', 'Edge article ' || g), 'succeeded', 1,
                       ts, ts, date_trunc('month', now())::date, ts, ts
                FROM (SELECT g, date_trunc('month', now())
                                + (now() - date_trunc('month', now())) * g / (%(n)s + 1) AS ts
                      FROM generate_series(1, %(n)s) g) a""",
                {"org": org_id, "n": add},
            )
            conn.execute(
                """
                INSERT INTO usage_counters (id, org_id, period_month, jobs_used)
                VALUES (gen_random_uuid(), %(org)s, date_trunc('month', now())::date, %(n)s)
                ON CONFLICT (org_id, period_month)
                DO UPDATE SET jobs_used = usage_counters.jobs_used + %(n)s""",
                {"org": org_id, "n": add},
            )
        conn.execute("ANALYZE content_jobs")
    return used + add


def _principal(conn: psycopg.Connection[tuple[object, ...]], orgs: list[uuid.UUID]) -> list[str]:
    """A user who owns the bench orgs, and one API key per org, hashed as the app does."""
    user_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO users (id, email, password_hash, display_name)"
        " VALUES (%s, %s, 'not-a-login', 'Bench')",
        (user_id, f"bench-{user_id.hex[:8]}@example.com"),
    )
    secrets = []
    for org_id in orgs:
        conn.execute(
            "INSERT INTO memberships (id, org_id, user_id, role) VALUES (%s, %s, %s, 'owner')",
            (uuid.uuid4(), org_id, user_id),
        )
        secret = new_secret(API_KEY_PREFIX)
        conn.execute(
            "INSERT INTO api_keys (id, org_id, name, prefix, secret_hash, scopes, created_by)"
            " VALUES (%s, %s, 'bench', %s, %s, ARRAY['jobs:read', 'jobs:write'], %s)",
            (uuid.uuid4(), org_id, secret[:VISIBLE_PREFIX_LENGTH], hash_secret(secret), user_id),
        )
        secrets.append(secret)
    return secrets


def load(url: str, shape: Shape, *, seed: int) -> Fixture:
    """Fill an empty, migrated database; returns the fixture the bench drives."""
    loads: list[tuple[str, int, float]] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET jit = off")
        conn.execute("SELECT setseed(%s)", ((seed % 1_000_003) / 1_000_003,))
        # Orgs are placed relative to the current month: usage is metered per month.
        for ddl in org_functions(shape.orgs, "date_trunc('month', now())", "STABLE"):
            conn.execute(ddl)
        steps = [
            ("organizations", organizations_insert(shape.orgs)),
            ("subscriptions", _subscriptions(shape)),
            ("api_keys", _api_keys(shape)),
            ("usage_counters", _usage_counters(shape)),
            ("content_jobs", _content_jobs(shape)),
        ]
        for table, statement in steps:
            started = time.perf_counter()
            cur = conn.execute(statement)
            loads.append((table, cur.rowcount, time.perf_counter() - started))
        row = conn.execute(
            "SELECT pg_temp.org_id(1), pg_temp.org_id(2), pg_temp.org_id(3),"
            " date_trunc('month', now())::date"
        ).fetchone()
        assert row is not None
        big, submit, edge, period = row
        assert isinstance(big, uuid.UUID)
        assert isinstance(submit, uuid.UUID)
        assert isinstance(edge, uuid.UUID)
        assert isinstance(period, date)
        keys = _principal(conn, [big, submit, edge])
        started = time.perf_counter()
        conn.execute("VACUUM (ANALYZE)")
        loads.append(("VACUUM (ANALYZE)", 0, time.perf_counter() - started))
        counted = conn.execute("SELECT count(*) FROM content_jobs WHERE org_id = %s", (big,))
        big_jobs = int(counted.fetchone()[0])  # type: ignore[index]
    return Fixture(
        big_org=big,
        submit_org=submit,
        edge_org=edge,
        api_keys=dict(zip([big, submit, edge], keys, strict=True)),
        big_org_jobs=big_jobs,
        period=period,
        loads=loads,
    )
