"""Deterministic, realistic bench data, generated inside PostgreSQL.

Rows come from `INSERT ... SELECT generate_series(...)` in one session seeded with
`setseed()`: no row crosses the wire, so the default scale (~10M rows) loads in minutes,
and the same seed and scale give the same rows. Statements that write never run in
parallel, so `random()` is drawn in a fixed order. Ids are UUIDv7-shaped (time prefix,
like the application's `new_id()`) but derived from an md5 of a key instead of
randomness, so they are reproducible too.

Shape (scale 1): 100k organizations, 500k users, 1M memberships, 150k subscriptions
(current + canceled history), 12 monthly usage counters per organization, 2M content
jobs over 12 months in creation order, ~3M artifacts (one to two per succeeded job),
1M billing events. Job ownership is skewed: `BIG_ORGS` organizations own a quarter of
all jobs (125k each at scale 1); the rest follow a power law (most orgs have ~10-20
jobs, a few hundred have thousands). The newest 3% of jobs are the live backlog
(mostly queued/running); older ones are mostly succeeded, a few failed or canceled.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg

# Data is anchored at a fixed instant (not now()) so that it is reproducible.
ANCHOR = "2026-11-01 00:00:00+00"
BIG_ORGS = 4
BIG_ORG_SHARE = 0.25
BACKLOG_SHARE = 0.03


@dataclass(frozen=True)
class Sizes:
    organizations: int
    users: int
    memberships: int
    subscriptions: int
    usage_months: int
    content_jobs: int
    content_artifacts: int
    billing_events: int

    @classmethod
    def for_scale(cls, scale: float) -> Sizes:
        def n(base: int, floor: int) -> int:
            return max(floor, round(base * scale))

        orgs = n(100_000, 2 * BIG_ORGS)
        return cls(
            organizations=orgs,
            users=max(orgs, n(500_000, 10)),
            memberships=n(1_000_000, 20),
            subscriptions=min(2 * orgs, n(150_000, 10)),
            usage_months=12,
            content_jobs=n(2_000_000, 100),
            content_artifacts=n(3_000_000, 100),
            billing_events=n(1_000_000, 20),
        )


@dataclass(frozen=True)
class TableLoad:
    table: str
    rows: int
    seconds: float


def org_functions(organizations: int, anchor: str, volatility: str = "IMMUTABLE") -> list[str]:
    """`pg_temp.v7(key, ts)`, `org_ts(n)` and `org_id(n)`: deterministic UUIDv7 ids and
    creation times for orgs 1..`organizations`, spread evenly from 730 to 30 days before
    `anchor`. `anchor` is SQL; one that reads the clock needs `volatility="STABLE"`."""
    org_step = 700 * 86400 / organizations
    return [
        # UUIDv7 layout: 48-bit unix ms, version 7, 12 bits, variant 8, 60 bits.
        "CREATE FUNCTION pg_temp.v7(k text, ts timestamptz) RETURNS uuid "
        "LANGUAGE sql IMMUTABLE RETURN ("
        "lpad(to_hex(floor(extract(epoch FROM ts) * 1000)::bigint), 12, '0') "
        "|| '7' || substr(md5(k), 1, 3) || '8' || substr(md5(k), 4, 15))::uuid",
        f"CREATE FUNCTION pg_temp.org_ts(n bigint) RETURNS timestamptz LANGUAGE sql {volatility} "
        f"RETURN {anchor} - interval '730 days' + make_interval(secs => n * {org_step})",
        f"CREATE FUNCTION pg_temp.org_id(n bigint) RETURNS uuid LANGUAGE sql {volatility} "
        "RETURN pg_temp.v7('org:' || n, pg_temp.org_ts(n))",
    ]


def organizations_insert(organizations: int) -> str:
    """Orgs 1..`organizations` with the ids and times of `org_functions`."""
    return f"""
    INSERT INTO organizations (id, name, created_at, updated_at)
    SELECT pg_temp.org_id(n), 'Organization ' || n, pg_temp.org_ts(n), pg_temp.org_ts(n)
    FROM generate_series(1, {organizations}) n"""


def _functions(s: Sizes) -> list[str]:
    user_step = 700 * 86400 / s.users
    return [
        *org_functions(s.organizations, f"timestamptz '{ANCHOR}'"),
        "CREATE FUNCTION pg_temp.user_ts(n bigint) RETURNS timestamptz LANGUAGE sql IMMUTABLE "
        f"RETURN timestamptz '{ANCHOR}' - interval '730 days' "
        f"+ make_interval(secs => n * {user_step})",
        "CREATE FUNCTION pg_temp.user_id(n bigint) RETURNS uuid LANGUAGE sql IMMUTABLE "
        "RETURN pg_temp.v7('user:' || n, pg_temp.user_ts(n))",
    ]


def _users(s: Sizes) -> str:
    return f"""
    INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at)
    SELECT pg_temp.user_id(n),
           'user' || n || '@' || (ARRAY['example.com', 'example.org', 'mail.test',
                                        'corp.test'])[1 + n % 4],
           '$argon2id$v=19$m=65536,t=3,p=4$' || md5('salt:' || n) || '$' || md5('hash:' || n),
           'User ' || n, pg_temp.user_ts(n), pg_temp.user_ts(n)
    FROM generate_series(1, {s.users}) n"""


def _memberships(s: Sizes) -> str:
    # Round 0 gives every user one org (and every org its owner: users 1..O own orgs
    # 1..O); later rounds add a second org, 5% of them one of the big orgs.
    o, u = s.organizations, s.users
    return f"""
    INSERT INTO memberships (id, org_id, user_id, role, created_at)
    SELECT pg_temp.v7('membership:' || i, ts), pg_temp.org_id(org), pg_temp.user_id(usr),
           role, ts
    FROM (
      SELECT i, org, usr,
             CASE WHEN i <= {o} THEN 'owner' WHEN random() < 0.1 THEN 'admin'
                  ELSE 'member' END AS role,
             greatest(pg_temp.org_ts(org), pg_temp.user_ts(usr))
               + make_interval(secs => random() * 86400 * 30) AS ts
      FROM (
        SELECT i, usr,
               CASE WHEN (i - 1) / {u} = 0 THEN ((usr - 1) % {o}) + 1
                    WHEN random() < 0.05 THEN 1 + floor(random() * {BIG_ORGS})::bigint
                    ELSE (((usr - 1) % {o}) + 1 + floor(random() * ({o} - 1))::bigint)
                         % {o} + 1
               END AS org
        FROM (SELECT i, ((i - 1) % {u}) + 1 AS usr
              FROM generate_series(1, {s.memberships}) i) a
        OFFSET 0
      ) b
      OFFSET 0
    ) c
    ON CONFLICT (org_id, user_id) DO NOTHING"""


def _subscriptions(s: Sizes) -> str:
    # Subscriptions 1..O are each org's current one; the rest are canceled history.
    o = s.organizations
    return f"""
    INSERT INTO subscriptions (id, org_id, provider, provider_customer_id,
        provider_subscription_id, plan, status, current_period_start, current_period_end,
        cancel_at_period_end, canceled_at, state_as_of, created_at, updated_at)
    SELECT pg_temp.v7('subscription:' || i, ts), pg_temp.org_id(org), 'stripe',
           'cus_' || substr(md5('cus:' || org), 1, 14),
           'sub_' || substr(md5('sub:' || i), 1, 24),
           (ARRAY['starter', 'pro', 'business'])[1 + floor(r_plan * 3)::int],
           status, period_start, period_start + interval '1 month', false,
           CASE WHEN status IN ('canceled', 'incomplete_expired') THEN period_start END,
           ts, ts, ts
    FROM (
      SELECT i, org, r_plan, ts,
             CASE WHEN i > {o} THEN
                    CASE WHEN r_status < 0.9 THEN 'canceled' ELSE 'incomplete_expired' END
                  WHEN r_status < 0.70 THEN 'active' WHEN r_status < 0.78 THEN 'trialing'
                  WHEN r_status < 0.81 THEN 'past_due' WHEN r_status < 0.83 THEN 'paused'
                  WHEN r_status < 0.85 THEN 'unpaid' WHEN r_status < 0.87 THEN 'incomplete'
                  ELSE 'canceled' END AS status,
             CASE WHEN i > {o} THEN ts
                  ELSE date_trunc('month', timestamptz '{ANCHOR}') END AS period_start
      FROM (
        SELECT i, org, random() AS r_plan, random() AS r_status,
               pg_temp.org_ts(org) + CASE WHEN i > {o} THEN interval '1 day'
                                          ELSE interval '60 days' END AS ts
        FROM (SELECT i, CASE WHEN i <= {o} THEN i ELSE ((i - {o} - 1) % {o}) + 1 END AS org
              FROM generate_series(1, {s.subscriptions}) i) a
        OFFSET 0
      ) b
    ) c"""


def _usage_counters(s: Sizes) -> str:
    # Counters appear month by month for every org, as the quota upsert creates them.
    return f"""
    INSERT INTO usage_counters (id, org_id, period_month, jobs_used, created_at, updated_at)
    SELECT pg_temp.v7('usage:' || org || ':' || k, month), pg_temp.org_id(org),
           month::date, floor(random() * 500)::bigint, month, month
    FROM generate_series({s.usage_months - 1}, 0, -1) k
    CROSS JOIN LATERAL (SELECT date_trunc('month', timestamptz '{ANCHOR}')
                               - make_interval(months => k::int) AS month) m
    CROSS JOIN generate_series(1, {s.organizations}) org"""


def _content_jobs(s: Sizes) -> str:
    o, j, u = s.organizations, s.content_jobs, s.users
    step = 365 * 86400 / j
    backlog_from = round(j * (1 - BACKLOG_SHARE))
    return f"""
    INSERT INTO content_jobs (id, org_id, created_by, kind, input, status, priority,
        attempts, max_attempts, run_after, lease_token, leased_by, lease_expires_at, error,
        started_at, finished_at, created_at, updated_at)
    SELECT pg_temp.v7('job:' || i, ts), pg_temp.org_id(org),
           pg_temp.user_id(1 + floor(r_user * {u})::bigint),
           kind,
           jsonb_build_object('prompt', 'Write about topic ' || (i % 9973), 'tone',
                              (ARRAY['neutral', 'friendly', 'formal'])[1 + i % 3],
                              'length', 200 + (i % 7) * 100),
           status, priority,
           CASE WHEN status = 'queued' AND retry THEN 1 WHEN status = 'queued' THEN 0
                ELSE 1 END,
           3,
           CASE WHEN status = 'queued' AND retry THEN ts + interval '5 minutes' ELSE ts END,
           CASE WHEN status = 'running' THEN pg_temp.v7('lease:' || i, ts) END,
           CASE WHEN status = 'running' THEN 'worker-' || (i % 8) END,
           CASE WHEN status = 'running' THEN ts + interval '2 minutes' END,
           CASE WHEN status = 'failed' THEN 'engine error: upstream timeout' END,
           CASE WHEN status <> 'queued' THEN ts + interval '2 seconds' END,
           CASE WHEN status IN ('succeeded', 'failed', 'canceled')
                THEN ts + make_interval(secs => 5 + r_user * 60) END,
           ts,
           CASE WHEN status IN ('succeeded', 'failed', 'canceled')
                THEN ts + make_interval(secs => 5 + r_user * 60) ELSE ts END
    FROM (
      SELECT i, r_user, retry,
             timestamptz '{ANCHOR}' - interval '365 days' + make_interval(secs => i * {step})
               AS ts,
             CASE WHEN r_org < {BIG_ORG_SHARE}
                  THEN 1 + floor(r_org / {BIG_ORG_SHARE} * {BIG_ORGS})::bigint
                  ELSE {BIG_ORGS} + 1 + floor(({o} - {BIG_ORGS}) * power(r_skew, 2))::bigint
             END AS org,
             CASE WHEN r_kind < 0.5 THEN 'article' WHEN r_kind < 0.8 THEN 'social_post'
                  ELSE 'summary' END AS kind,
             CASE WHEN r_pri < 0.88 THEN 0 WHEN r_pri < 0.98 THEN 5 ELSE 10 END AS priority,
             CASE WHEN i > {backlog_from} THEN
                    CASE WHEN r_status < 0.60 THEN 'queued' WHEN r_status < 0.70 THEN 'running'
                         WHEN r_status < 0.95 THEN 'succeeded' ELSE 'failed' END
                  ELSE
                    CASE WHEN r_status < 0.96 THEN 'succeeded' WHEN r_status < 0.985
                         THEN 'failed' ELSE 'canceled' END
             END AS status
      FROM (
        SELECT i, random() AS r_org, random() AS r_skew, random() AS r_kind,
               random() AS r_pri, random() AS r_status, random() AS r_user,
               random() < 0.1 AS retry
        FROM generate_series(1, {j}) i
        OFFSET 0
      ) a
    ) b"""


def _content_artifacts(s: Sizes, succeeded: int) -> str:
    extra = max(0.0, s.content_artifacts / max(succeeded, 1) - 1)
    p2, p3 = min(1.0, extra), max(0.0, min(1.0, extra - 1))
    return f"""
    INSERT INTO content_artifacts (id, job_id, type, media_type, content, metadata,
        size_bytes, created_at)
    SELECT pg_temp.v7('artifact:' || j.id || ':' || t.k, j.finished_at), j.id, t.type,
           t.media_type, body, jsonb_build_object('model', 'engine-v1', 'tokens',
           floor(j.r * 2000)::int), length(body) * 40, j.finished_at
    FROM (SELECT id, kind, finished_at, random() AS r FROM content_jobs
          WHERE status = 'succeeded' OFFSET 0) j
    CROSS JOIN LATERAL (VALUES (1, 'text', 'text/markdown'), (2, 'summary', 'text/plain'),
                               (3, 'image_prompt', 'text/plain')) t(k, type, media_type)
    CROSS JOIN LATERAL (SELECT '# ' || j.kind || E'\\n\\n' || repeat('Generated text. ', 12)
                               || md5(j.id::text) AS body) c
    WHERE t.k = 1 OR (t.k = 2 AND j.r < {p2}) OR (t.k = 3 AND j.r < {p3})"""


def _billing_events(s: Sizes) -> str:
    step = 365 * 86400 / s.billing_events
    return f"""
    INSERT INTO billing_events (id, provider, provider_event_id, type, payload,
        provider_created_at, received_at, processed_at, attempts)
    SELECT pg_temp.v7('event:' || i, ts), pg_temp.provider_for(i), pg_temp.event_id_for(i), type,
           jsonb_build_object('id', pg_temp.event_id_for(i), 'object', 'event', 'type', type,
             'data', jsonb_build_object('object', jsonb_build_object(
               'id', 'sub_' || substr(md5('sub:' || (1 + i % {s.subscriptions})), 1, 24),
               'object', 'subscription', 'status', 'active'))),
           ts - interval '2 seconds', ts, ts + interval '1 second', 1
    FROM (
      SELECT i, timestamptz '{ANCHOR}' - interval '365 days' + make_interval(secs => i * {step})
               AS ts,
             (ARRAY['customer.subscription.updated', 'invoice.paid',
                    'customer.subscription.created', 'invoice.payment_failed',
                    'checkout.session.completed'])[1 + floor(random() * 5)::int] AS type
      FROM generate_series(1, {s.billing_events}) i
      OFFSET 0
    ) a"""


# The sampler recomputes these in Python (`event_key`), so they are plain functions.
_EVENT_FUNCTIONS = [
    "CREATE FUNCTION pg_temp.provider_for(i bigint) RETURNS text LANGUAGE sql IMMUTABLE "
    "RETURN CASE WHEN i % 20 = 0 THEN 'paddle' ELSE 'stripe' END",
    "CREATE FUNCTION pg_temp.event_id_for(i bigint) RETURNS text LANGUAGE sql IMMUTABLE "
    "RETURN 'evt_' || substr(md5('evt:' || i), 1, 24)",
]


def event_key(i: int) -> tuple[str, str]:
    """(provider, provider_event_id) of billing event number `i` (1-based)."""
    import hashlib

    digest = hashlib.md5(f"evt:{i}".encode(), usedforsecurity=False).hexdigest()
    return ("paddle" if i % 20 == 0 else "stripe", "evt_" + digest[:24])


def load(url: str, sizes: Sizes, *, seed: int) -> list[TableLoad]:
    """Fill an empty, migrated database; returns rows and seconds per table."""
    loads: list[TableLoad] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET jit = off")
        conn.execute("SELECT setseed(%s)", ((seed % 1_000_003) / 1_000_003,))
        for ddl in _functions(sizes) + _EVENT_FUNCTIONS:
            conn.execute(ddl)
        steps: list[tuple[str, str]] = [
            ("organizations", organizations_insert(sizes.organizations)),
            ("users", _users(sizes)),
            ("memberships", _memberships(sizes)),
            ("subscriptions", _subscriptions(sizes)),
            ("usage_counters", _usage_counters(sizes)),
            ("content_jobs", _content_jobs(sizes)),
            ("content_artifacts", ""),
            ("billing_events", _billing_events(sizes)),
        ]
        for table, statement in steps:
            if table == "content_artifacts":
                row = conn.execute(
                    "SELECT count(*) FROM content_jobs WHERE status = 'succeeded'"
                ).fetchone()
                statement = _content_artifacts(sizes, int(row[0]) if row else 0)
            started = time.perf_counter()
            cur = conn.execute(statement)
            loads.append(TableLoad(table, cur.rowcount, time.perf_counter() - started))
        started = time.perf_counter()
        conn.execute("VACUUM (ANALYZE)")
        loads.append(TableLoad("VACUUM (ANALYZE)", 0, time.perf_counter() - started))
    return loads
