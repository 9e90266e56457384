"""The job queue is the `content_jobs` table; this module is every state change a worker makes.

    queued --claim--> running --complete--> succeeded
                         |--retry (transient, attempts left)--> queued (run_after = backoff)
                         |--fail--> failed            (unit refunded unless the input was bad)
                         |--cancel requested (seen at any write above)--> canceled
                         |--release (shutdown)--> queued (attempt not counted)
                         '--lease expired (crash)--> queued (attempt not counted; a
                              lease expiry counted instead), or failed past their cap

Every write out of `running` looks at `cancel_requested_at`: a job whose cancellation was
requested ends `canceled` (without artifacts) even if its run finished first.

Every transition out of `running` is written only `WHERE status = 'running' AND
lease_token = :token`, so a worker whose lease was taken over can never overwrite the
newer attempt. Each function runs in the caller's transaction and commits nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Connection, Float, Text, bindparam, func, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Uuid

from pressroom.billing.plans import LIVE_PLAN_SQL
from pressroom.db.base import new_id
from pressroom.usage.service import refund_job
from pressroom.webhooks.events import JobOutcome, announce_jobs

if TYPE_CHECKING:
    from pressroom.jobs.worker.retry_policy import RetryPolicy

NOTIFY_CHANNEL = "pressroom_jobs"
# A cancellation request of a running job: the payload is the job id, so the worker
# running it stops at once instead of at its next heartbeat.
CANCEL_CHANNEL = "pressroom_job_cancel"
# Namespace of the per-org advisory locks that serialise claims for one org.
_CLAIM_LOCK_NAMESPACE = 0x5052


@dataclass(frozen=True)
class ConcurrencyPolicy:
    """How many jobs an org may run at once, by plan (from the plan catalog)."""

    max_running_by_plan: Mapping[str, int]
    default_max_running: int


@dataclass(frozen=True)
class Claim:
    id: uuid.UUID
    org_id: uuid.UUID
    kind: str
    input: dict[str, Any]
    attempts: int
    max_attempts: int
    lease_token: uuid.UUID
    trace_context: str | None = None


@dataclass(frozen=True)
class ArtifactRow:
    type: str
    media_type: str
    content: str
    metadata: dict[str, Any] = field(default_factory=dict)


def notify(conn: Connection) -> None:
    """Wake listening workers; delivered by PostgreSQL only if the transaction commits."""
    conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})


def notify_column() -> ColumnElement[Any]:
    """`notify` as a column, for the RETURNING of the statement that queues a job: the
    wake-up rides on that statement, once per row it queued, instead of one of its own."""
    return func.pg_notify(NOTIFY_CHANNEL, "")


def notify_cancel(conn: Connection, job_id: uuid.UUID) -> None:
    """Tell the worker running `job_id` to stop (delivered only if the request commits)."""
    conn.execute(
        text("SELECT pg_notify(:channel, :job)"), {"channel": CANCEL_CHANNEL, "job": str(job_id)}
    )


# An org's running limit (its plan now, else the default) and how many of its jobs run
# now, for the org whose id is `{org}`. The plan is billing.plans' one rule, compiled to
# SQL: idx_subscriptions_org_status finds the org's few live rows, a top-1 sort picks one.
_ORG_LIMIT = f"""COALESCE(
        (CAST(:plan_limits AS jsonb) ->> {LIVE_PLAN_SQL})::int,
        :default_limit)"""
_ORG_RUNNING = """(SELECT count(*) FROM content_jobs r
         WHERE r.org_id = {org} AND r.status = 'running')"""

# Orgs to claim for, locked. Orgs with due work are found by a skip scan over
# idx_content_jobs_queue: one index probe per org, however long its backlog. (The ORDER BY
# spells out the whole index, so the planner can't switch to another index on org_id and
# filter out finished jobs one by one while its statistics still count them as queued.)
# They are ordered by how long their oldest due job has waited. Walking that order
# (`OFFSET 0` keeps the planner from checking every org before sorting), orgs at their
# limit are skipped — or every worker would keep picking the same full orgs and claim
# nothing while others wait — and the others are try-locked (`CASE` fixes that order)
# until `max_orgs` are held: one claimer at a time per org, so two workers can't both fill
# the same free slot; an org another worker is claiming for right now is skipped.
_LOCK_CANDIDATE_ORGS = text(
    f"""
    WITH RECURSIVE orgs(org_id) AS (
        (SELECT org_id FROM content_jobs WHERE status = 'queued'
         ORDER BY org_id, priority DESC, run_after, id LIMIT 1)
        UNION ALL
        SELECT (SELECT j.org_id FROM content_jobs j
                WHERE j.status = 'queued' AND j.org_id > o.org_id
                ORDER BY j.org_id, j.priority DESC, j.run_after, j.id LIMIT 1)
        FROM orgs o WHERE o.org_id IS NOT NULL
    )
    SELECT waiting.org_id FROM (
        SELECT o.org_id FROM orgs o
        CROSS JOIN LATERAL (
            SELECT j.priority, j.run_after FROM content_jobs j
            WHERE j.org_id = o.org_id AND j.status = 'queued' AND j.run_after <= now()
            ORDER BY j.priority DESC, j.run_after, j.id LIMIT 1
        ) head
        WHERE o.org_id IS NOT NULL
        ORDER BY head.priority DESC, head.run_after
        OFFSET 0
    ) waiting
    WHERE CASE
        WHEN {_ORG_RUNNING.format(org="waiting.org_id")}
             < {_ORG_LIMIT.format(org="waiting.org_id")}
        THEN pg_try_advisory_xact_lock(:ns, hashtext(waiting.org_id::text))
        ELSE false
    END
    LIMIT :max_orgs
    """
)

# A new statement, so its snapshot sees every claim committed before the locks were taken.
# The UPDATE finds its rows by primary key (`= ANY(ARRAY(...))`): joined to the CTE, the
# planner guesses hundreds of rows and scans the whole table instead.
_CLAIM = text(
    f"""
    WITH slots AS (
        SELECT o.org_id,
               {_ORG_LIMIT.format(org="o.org_id")} - {_ORG_RUNNING.format(org="o.org_id")} AS free
        FROM unnest(:orgs) AS o(org_id)
    ),
    picked AS (
        SELECT c.id FROM slots s
        CROSS JOIN LATERAL (
            SELECT j.id FROM content_jobs j
            WHERE j.org_id = s.org_id AND j.status = 'queued' AND j.run_after <= now()
            ORDER BY j.priority DESC, j.run_after, j.id
            LIMIT GREATEST(LEAST(s.free, :per_org), 0)
            FOR UPDATE SKIP LOCKED
        ) c
    )
    UPDATE content_jobs j
    SET status = 'running', attempts = j.attempts + 1, lease_token = gen_random_uuid(),
        leased_by = :worker, lease_expires_at = now() + make_interval(secs => :lease_seconds),
        started_at = COALESCE(j.started_at, now()), updated_at = now()
    WHERE j.id = ANY(ARRAY(SELECT id FROM picked))
    RETURNING j.id, j.org_id, j.kind, j.input, j.attempts, j.max_attempts, j.lease_token,
        j.trace_context
    """
).bindparams(
    bindparam("orgs", type_=ARRAY(Uuid())),
)


def claim(
    conn: Connection,
    *,
    worker_id: str,
    limit: int,
    lease_seconds: float,
    policy: ConcurrencyPolicy,
) -> list[Claim]:
    """Lease up to `limit` due jobs, spread across orgs, within each org's running limit."""
    if limit <= 0:
        return []
    limits = {
        "plan_limits": json.dumps(dict(policy.max_running_by_plan)),
        "default_limit": policy.default_max_running,
    }
    locked = [
        row[0]
        for row in conn.execute(
            _LOCK_CANDIDATE_ORGS, {**limits, "ns": _CLAIM_LOCK_NAMESPACE, "max_orgs": limit}
        )
    ]
    if not locked:
        return []
    rows = conn.execute(
        _CLAIM,
        {
            **limits,
            "orgs": locked,
            "per_org": max(1, limit // len(locked)),
            "worker": worker_id,
            "lease_seconds": lease_seconds,
        },
    )
    return [Claim(*row) for row in rows]


# The leases a statement acts on, matched by primary key first (`j.id = ANY(:ids)`) so a
# big table is never scanned whatever the planner guesses about the arrays.
_LEASES = "unnest(:ids, :tokens) AS l(id, token)"
_LEASE_MATCH = (
    "j.id = ANY(:ids) AND j.id = l.id AND j.status = 'running' AND j.lease_token = l.token"
)


def _lease_params(claims: Sequence[Claim]) -> dict[str, Any]:
    return {"ids": [c.id for c in claims], "tokens": [c.lease_token for c in claims]}


_HEARTBEAT = text(
    f"""
    UPDATE content_jobs j
    SET lease_expires_at = now() + make_interval(secs => :lease_seconds)
    FROM {_LEASES}
    WHERE {_LEASE_MATCH}
    RETURNING j.id, j.cancel_requested_at IS NOT NULL
    """
).bindparams(bindparam("ids", type_=ARRAY(Uuid())), bindparam("tokens", type_=ARRAY(Uuid())))


@dataclass(frozen=True)
class HeartbeatResult:
    lost: set[uuid.UUID]  # leases taken over (expired and rescued): stop, write nothing
    cancel_requested: set[uuid.UUID]


def heartbeat(conn: Connection, claims: Sequence[Claim], lease_seconds: float) -> HeartbeatResult:
    """Extend the leases still held; report the lost ones and cancellation requests."""
    if not claims:
        return HeartbeatResult(set(), set())
    rows = conn.execute(_HEARTBEAT, {**_lease_params(claims), "lease_seconds": lease_seconds})
    held: set[uuid.UUID] = set()
    cancel: set[uuid.UUID] = set()
    for job_id, cancel_requested in rows:
        held.add(job_id)
        if cancel_requested:
            cancel.add(job_id)
    return HeartbeatResult({c.id for c in claims} - held, cancel)


_CANCELED_ERROR = "canceled while running"

_FINISH = text(
    f"""
    UPDATE content_jobs
    SET status = CASE WHEN cancel_requested_at IS NULL THEN :status ELSE 'canceled' END,
        error = CASE WHEN cancel_requested_at IS NULL THEN :error ELSE '{_CANCELED_ERROR}' END,
        usage = COALESCE(CAST(:usage AS jsonb), usage),
        finished_at = now(), updated_at = now(), lease_token = NULL, lease_expires_at = NULL
    WHERE id = :id AND status = 'running' AND lease_token = :token
    RETURNING status
    """
)


def _finish(
    conn: Connection,
    claim: Claim,
    status: str,
    *,
    error: str | None = None,
    usage: Mapping[str, Any] | None = None,
) -> str | None:
    """Write a final status under the lease token (`canceled` if that was requested);
    returns the status written, or None if the lease was lost."""
    params = {
        "status": status,
        "error": error,
        "usage": json.dumps(dict(usage)) if usage else None,
        "id": claim.id,
        "token": claim.lease_token,
    }
    written: str | None = conn.execute(_FINISH, params).scalar()
    return written


_INSERT_ARTIFACTS = text(
    """
    INSERT INTO content_artifacts (id, job_id, type, media_type, content, metadata, size_bytes)
    VALUES (:id, :job_id, :type, :media_type, :content, CAST(:metadata AS jsonb), :size_bytes)
    """
)


_COMPLETE_MANY = text(
    f"""
    UPDATE content_jobs j
    SET status = CASE WHEN j.cancel_requested_at IS NULL THEN 'succeeded' ELSE 'canceled' END,
        error = CASE WHEN j.cancel_requested_at IS NULL THEN NULL ELSE '{_CANCELED_ERROR}' END,
        usage = COALESCE(CAST(l.usage AS jsonb), j.usage), finished_at = now(),
        updated_at = now(), lease_token = NULL, lease_expires_at = NULL
    FROM unnest(:ids, :tokens, :usages) AS l(id, token, usage)
    WHERE {_LEASE_MATCH}
    RETURNING j.id, j.status
    """
).bindparams(
    bindparam("ids", type_=ARRAY(Uuid())),
    bindparam("tokens", type_=ARRAY(Uuid())),
    bindparam("usages", type_=ARRAY(Text())),
)


@dataclass(frozen=True)
class Success:
    claim: Claim
    artifacts: Sequence[ArtifactRow]
    usage: Mapping[str, Any] | None = None


def complete_many(conn: Connection, successes: Sequence[Success]) -> dict[uuid.UUID, str]:
    """Mark finished runs succeeded and store their artifacts, in two statements; each job
    is written only under its own lease token. A job whose cancellation was requested
    meanwhile ends `canceled`, without artifacts. Returns each written job's new status
    (a lost lease is simply left out)."""
    if not successes:
        return {}
    params = {
        **_lease_params([s.claim for s in successes]),
        "usages": [json.dumps(dict(s.usage)) if s.usage else None for s in successes],
    }
    written: dict[uuid.UUID, str] = {
        job_id: status for job_id, status in conn.execute(_COMPLETE_MANY, params)
    }
    done = [s for s in successes if s.claim.id in written]
    rows = [
        _artifact_row(s.claim.id, a)
        for s in done
        if written[s.claim.id] == "succeeded"
        for a in s.artifacts
    ]
    if rows:
        conn.execute(_INSERT_ARTIFACTS, rows)
    artifacts: dict[uuid.UUID, list[tuple[uuid.UUID, str, str]]] = {}
    for row in rows:
        artifacts.setdefault(row["job_id"], []).append((row["id"], row["type"], row["media_type"]))
    announce_jobs(
        conn,
        [
            _outcome(
                s.claim,
                written[s.claim.id],
                usage=s.usage,
                artifacts=artifacts.get(s.claim.id, []),
            )
            for s in done
        ],
    )
    return written


def _outcome(claim: Claim, status: str, **details: Any) -> JobOutcome:
    return JobOutcome(
        claim.id, claim.org_id, claim.kind, status, trace_context=claim.trace_context, **details
    )


def _artifact_row(job_id: uuid.UUID, a: ArtifactRow) -> dict[str, Any]:
    return {
        "id": new_id(),
        "job_id": job_id,
        "type": a.type,
        "media_type": a.media_type,
        "content": a.content,
        "metadata": json.dumps(a.metadata),
        "size_bytes": len(a.content.encode()),
    }


_RETRY = text(
    """
    UPDATE content_jobs
    SET status = 'queued', error = :error, run_after = now() + make_interval(secs => :delay),
        lease_token = NULL, lease_expires_at = NULL, leased_by = NULL, updated_at = now()
    WHERE id = :id AND status = 'running' AND lease_token = :token
      AND cancel_requested_at IS NULL
    RETURNING id
    """
)


def retry_or_fail(
    conn: Connection,
    claim: Claim,
    error: str,
    *,
    policy: RetryPolicy,
    retryable: bool,
    refundable: bool = True,
    retry_after: float | None = None,
) -> str | None:
    """After a failed attempt: back to the queue after the policy's delay (at least the
    upstream's Retry-After) while attempts remain and the error is retryable, else
    `failed` (refunding the unit when the fault was ours); `canceled` if that was asked
    for meanwhile. Returns the new status, or None if the lease was lost."""
    if retryable and policy.retries_failure(claim.attempts, claim.max_attempts):
        delay = policy.delay(claim.attempts, retry_after=retry_after)
        params = {"error": error, "delay": delay, "id": claim.id, "token": claim.lease_token}
        if conn.execute(_RETRY, params).first():
            return "queued"
    status = _finish(conn, claim, "failed", error=error)
    if status == "failed" and refundable:
        refund_job(conn, claim.id)
    if status is not None:
        announce_jobs(conn, [_outcome(claim, status, error=error)])
    return status


def cancel(conn: Connection, claim: Claim) -> str | None:
    """Honour a cancellation request for a running job (the work done is not refunded).
    Returns "canceled", or None if the lease was lost."""
    status = _finish(conn, claim, "canceled", error=_CANCELED_ERROR)
    if status is not None:
        announce_jobs(conn, [_outcome(claim, status, error=_CANCELED_ERROR)])
    return status


_RELEASE = text(
    """
    UPDATE content_jobs
    SET status = 'queued', attempts = attempts - 1, lease_token = NULL,
        lease_expires_at = NULL, leased_by = NULL, updated_at = now()
    WHERE id = :id AND status = 'running' AND lease_token = :token
    RETURNING id
    """
)


def release(conn: Connection, claim: Claim) -> bool:
    """Hand an unfinished job back on shutdown, without counting the attempt."""
    return conn.execute(_RELEASE, {"id": claim.id, "token": claim.lease_token}).first() is not None


_EXPIRED = text(
    """
    SELECT id, org_id, kind, lease_expiries, cancel_requested_at IS NOT NULL FROM content_jobs
    WHERE status = 'running' AND lease_expires_at < now()
    ORDER BY lease_expires_at LIMIT :limit
    FOR UPDATE SKIP LOCKED
    """
)

# The crashed run's attempt is given back (`attempts - 1`): a worker dying is not the job
# failing. The expiry is counted instead, against the policy's own cap.
_LEASE_EXPIRED_ERROR = "lease expired: the worker running it stopped responding"
_RESCUE_ERRORS = {"canceled": _CANCELED_ERROR, "failed": _LEASE_EXPIRED_ERROR}
_RESCUE = text(
    f"""
    UPDATE content_jobs j
    SET status = r.status, attempts = j.attempts - 1, lease_expiries = j.lease_expiries + 1,
        error = CASE WHEN r.status = 'canceled' THEN '{_CANCELED_ERROR}'
                     ELSE '{_LEASE_EXPIRED_ERROR}' END,
        run_after = now() + make_interval(secs => r.delay),
        finished_at = CASE WHEN r.status = 'queued' THEN NULL ELSE now() END,
        lease_token = NULL, lease_expires_at = NULL, leased_by = NULL, updated_at = now()
    FROM unnest(:ids, :statuses, :delays) AS r(id, status, delay)
    WHERE j.id = ANY(:ids) AND j.id = r.id
    """
).bindparams(
    bindparam("ids", type_=ARRAY(Uuid())),
    bindparam("statuses", type_=ARRAY(Text())),
    bindparam("delays", type_=ARRAY(Float())),
)


@dataclass(frozen=True)
class RescueResult:
    requeued: int
    failed: int
    canceled: int = 0


def rescue_expired(conn: Connection, policy: RetryPolicy, *, limit: int = 500) -> RescueResult:
    """Put jobs of crashed workers back in the queue, after the policy's delay for their
    lease expiries; a job that keeps killing its workers ends `failed` past the policy's
    cap (and its unit is refunded); a job whose cancellation was requested ends `canceled`."""
    expired = conn.execute(_EXPIRED, {"limit": limit}).all()
    if not expired:
        return RescueResult(0, 0)
    statuses, delays = [], []
    for _, _, _, expiries, cancel_requested in expired:
        if cancel_requested:
            statuses.append("canceled")
        elif policy.rescues(expiries + 1):
            statuses.append("queued")
        else:
            statuses.append("failed")
        delays.append(policy.rescue_delay(expiries + 1))
    ids = [row[0] for row in expired]
    conn.execute(_RESCUE, {"ids": ids, "statuses": statuses, "delays": delays})
    failed = [job_id for job_id, status in zip(ids, statuses, strict=True) if status == "failed"]
    for job_id in failed:
        refund_job(conn, job_id)
    announce_jobs(
        conn,
        [
            JobOutcome(job_id, org_id, kind, status, error=_RESCUE_ERRORS[status])
            for (job_id, org_id, kind, _, _), status in zip(expired, statuses, strict=True)
            if status != "queued"
        ],
    )
    return RescueResult(
        requeued=statuses.count("queued"), failed=len(failed), canceled=statuses.count("canceled")
    )


@dataclass(frozen=True)
class QueueStats:
    depth: int
    oldest_age_seconds: float
    running: int


_STATS = text(
    """
    SELECT (SELECT count(*) FROM content_jobs WHERE status = 'queued'),
           COALESCE((SELECT extract(epoch FROM now() - min(run_after)) FROM content_jobs
                     WHERE status = 'queued' AND run_after <= now()), 0),
           (SELECT count(*) FROM content_jobs WHERE status = 'running')
    """
)


def stats(conn: Connection) -> QueueStats:
    depth, age, running = conn.execute(_STATS).one()
    return QueueStats(int(depth), float(age), int(running))
