"""Content jobs as the API sees them: submit, list, read, cancel, retry, artifacts.

Functions take the session and the org's scope first and never commit: the request does.
Submitting is one transaction: insert the job, take one unit of this month's quota,
notify the workers — all or nothing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Insert,
    Integer,
    Select,
    and_,
    bindparam,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, defer

from pressroom import tracing
from pressroom.billing.plans import Plan, live_plan_name, plan_named, plan_now
from pressroom.db.async_pool import DriverStatement, PoolConnection
from pressroom.db.base import new_id
from pressroom.db.tenancy import OrgScope
from pressroom.errors import Conflict, InvalidInput, NotFound, PaymentRequired
from pressroom.jobs import queue
from pressroom.jobs.models import ContentArtifact, ContentJob, JobStatus, JobStatusCount
from pressroom.jobs.schemas import JobDetail, JobOut, JobSubmission
from pressroom.pagination import Cursor, PageParams
from pressroom.usage import service as usage
from pressroom.webhooks.events import JobOutcome, announce_jobs

MAX_IDEMPOTENCY_KEY_LENGTH = 255


class JobNotFound(NotFound):
    code = "job_not_found"


class ArtifactNotFound(NotFound):
    code = "artifact_not_found"


class KindNotInPlan(PaymentRequired):
    code, title = "plan_upgrade_required", "Not included in the plan"


class JobStateConflict(Conflict):
    code = "job_state_conflict"


class IdempotencyKeyReused(Conflict):
    code, title = "idempotency_key_reused", "Idempotency key reused"


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(
        f"{field}: {message}",
        extra={"errors": [{"field": field, "in": "body", "message": message}]},
    )


def _validate(body: JobSubmission, plan: Plan) -> dict[str, object]:
    """The plan's rules (the input itself was validated with the body); returns the input
    as stored."""
    if not plan.allows(body.kind):
        raise KindNotInPlan(
            f"kind: {body.kind.value!r} is not included in the {plan.name!r} plan",
            extra={"plan": plan.name, "allowed_kinds": sorted(plan.allowed_kinds)},
        )
    if body.priority > plan.max_priority:
        raise _invalid("priority", f"must be at most {plan.max_priority} on the {plan.name!r} plan")
    return body.input.model_dump(mode="json", exclude_none=True)


def _fingerprint(body: JobSubmission) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Submitted:
    job: ContentJob
    created: bool  # False: an earlier request with the same Idempotency-Key made it


def submit(
    session: Session,
    scope: OrgScope,
    body: JobSubmission,
    *,
    created_by: uuid.UUID | None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Submitted:
    now = now or datetime.now(UTC)
    _check_idempotency_key(idempotency_key)
    plan = plan_now(session, scope)
    values = _job_values(scope, body, plan, created_by, idempotency_key, now)
    # A concurrent request with the same key waits here for the first to commit, then
    # finds its row: one job and one quota unit however many times the POST is retried.
    # The NOTIFY rides on the insert's RETURNING: only a job actually queued wakes workers.
    job = session.execute(_queueing(values).returning(ContentJob, queue.notify_column())).scalar()
    if job is None:
        existing = session.execute(
            select(ContentJob).where(
                scope.where(ContentJob.org_id), ContentJob.idempotency_key == idempotency_key
            )
        ).scalar_one()
        _check_replay(existing.request_fingerprint, values["request_fingerprint"])
        return Submitted(existing, created=False)
    # Last statement on purpose: the org's counter row stays locked until this transaction
    # commits, so every other submission of the org queues behind it; nothing may run in
    # between (docs/jobs.md, Benchmark).
    usage.consume(session, scope, limit=plan.monthly_quota, now=now)
    return Submitted(job, created=True)


def _check_idempotency_key(key: str | None) -> None:
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidInput(
            f"Idempotency-Key: must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters",
            extra={
                "errors": [
                    {"field": "Idempotency-Key", "in": "header", "message": "invalid length"}
                ]
            },
        )


def _job_values(
    scope: OrgScope,
    body: JobSubmission,
    plan: Plan,
    created_by: uuid.UUID | None,
    idempotency_key: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The new job's row, once the plan allows it."""
    return {
        "id": new_id(),
        "org_id": scope.org_id,
        "created_by": created_by,
        "kind": body.kind.value,
        "input": _validate(body, plan),
        "priority": body.priority,
        "idempotency_key": idempotency_key,
        "request_fingerprint": _fingerprint(body),
        "quota_period": usage.period_of(now),
        "trace_context": tracing.current_context(),
    }


def _queueing(values: Mapping[str, Any]) -> Insert:
    """The insert of a new job, which does nothing for an Idempotency-Key already used."""
    return (
        insert(ContentJob)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["org_id", "idempotency_key"],
            index_where=text("idempotency_key IS NOT NULL"),
        )
    )


def _check_replay(stored_fingerprint: str | None, fingerprint: str) -> None:
    if stored_fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "Idempotency-Key: this key was used with a different request body"
        )


# --- submitting on the async pool (pressroom.db.async_pool): the same rules, 5 statements
# (BEGIN, the access statement reading the plan and the month's usage, the insert with its
# NOTIFY, the quota unit, COMMIT).


def submission_columns() -> tuple[ColumnElement[Any], ...]:
    """What a submission reads of the org in the access statement: its plan and its jobs
    used this month (orgs.access.OrgColumns)."""
    return (live_plan_name(), usage.jobs_used_now(bindparam("usage_period", type_=Date)))


def submission_params(now: datetime) -> dict[str, Any]:
    return {"usage_period": usage.period_of(now)}


async def submit_on_pool(
    conn: PoolConnection,
    scope: OrgScope,
    body: JobSubmission,
    *,
    plan_name: str | None,
    used: int | None,
    created_by: uuid.UUID | None,
    idempotency_key: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """`submit` with the org's plan and usage read already (`submission_columns`): the job
    as JobDetail's fields, and whether this request created it."""
    now = datetime.now(UTC)
    _check_idempotency_key(idempotency_key)
    plan = plan_named(plan_name)
    values = _job_values(scope, body, plan, created_by, idempotency_key, now)
    if idempotency_key is None and (used or 0) + 1 > plan.monthly_quota:
        # Refused before anything is written: the transaction ends with COMMIT and the
        # connection keeps its prepared statements. A retry with a key may be a replay.
        raise usage.quota_exceeded(used or 0, plan.monthly_quota, values["quota_period"])
    row = await _queue_on_pool().first(conn, **values)
    if row is None:
        row = await _replay_on_pool().first(conn, idempotency_key=idempotency_key, **scope.param)
        _check_replay(row[-1], values["request_fingerprint"])
        return dict(zip(DETAILED_FIELDS, row, strict=False)), False
    await usage.consume_on_pool(conn, scope, limit=plan.monthly_quota, now=now)
    return dict(zip(DETAILED_FIELDS, row, strict=False)), True


DETAILED_FIELDS = tuple(JobDetail.model_fields)
_DETAILED = tuple(ContentJob.__table__.c[name] for name in DETAILED_FIELDS)


@cache
def _queue_on_pool() -> DriverStatement:
    columns = ContentJob.__table__.c
    names = ("id", "org_id", "created_by", "kind", "input", "priority", "idempotency_key",
             "request_fingerprint", "quota_period", "trace_context")  # fmt: skip
    values = {name: bindparam(name, type_=columns[name].type) for name in names}
    return DriverStatement(_queueing(values).returning(*_DETAILED, queue.notify_column()))


@cache
def _replay_on_pool() -> DriverStatement:
    return DriverStatement(
        select(*_DETAILED, ContentJob.request_fingerprint).where(
            OrgScope.where_param(ContentJob.org_id),
            ContentJob.idempotency_key == bindparam("idempotency_key"),
        )
    )


def get_job(session: Session, scope: OrgScope, job_id: uuid.UUID) -> ContentJob:
    job = session.execute(
        select(ContentJob).where(ContentJob.id == job_id, scope.where(ContentJob.org_id))
    ).scalar_one_or_none()
    if job is None:
        raise JobNotFound("Job not found.")
    return job


def list_jobs_query(
    scope: OrgScope,
    *,
    limit: int,
    cursor: Cursor | None = None,
    status: JobStatus | None = None,
    kind: str | None = None,
) -> Select[ContentJob]:
    """Newest first, served by idx_content_jobs_org_created_desc: the bound on created_at is
    an index condition, so a page deep in a large org costs what the first one does."""
    return _newest_first(
        select(ContentJob).where(scope.where(ContentJob.org_id)),
        limit=limit,
        after=(cursor.created_at, cursor.id) if cursor is not None else None,
        status=status.value if status is not None else None,
        kind=kind,
    )


def _newest_first(
    query: Select[Any], *, limit: Any, after: tuple[Any, Any] | None, status: Any, kind: Any
) -> Select[Any]:
    """`list_jobs_query`'s rules; values, or bound parameters for a statement built once."""
    if after is not None:
        created_at, job_id = after
        query = query.where(
            ContentJob.created_at <= created_at,
            or_(
                ContentJob.created_at < created_at,
                and_(ContentJob.created_at == created_at, ContentJob.id < job_id),
            ),
        )
    if status is not None:
        query = query.where(ContentJob.status == status)
    if kind is not None:
        query = query.where(ContentJob.kind == kind)
    return query.order_by(ContentJob.created_at.desc(), ContentJob.id.desc()).limit(limit)


def list_jobs(
    session: Session,
    scope: OrgScope,
    page: PageParams,
    *,
    status: JobStatus | None = None,
    kind: str | None = None,
) -> tuple[list[ContentJob], str | None]:
    """One page, newest first; returns (jobs, the `after` of the next page or None)."""
    cursor = Cursor.decode(page.after) if page.after else None
    limit = page.limit
    query = list_jobs_query(scope, limit=limit + 1, cursor=cursor, status=status, kind=kind)
    # Listings don't show the input (an article, up to 200k characters): don't fetch it.
    # raiseload: reading it anyway fails loudly instead of costing a query per row.
    query = query.options(defer(ContentJob.input, raiseload=True))
    rows = list(session.execute(query).scalars())
    jobs, more = rows[:limit], len(rows) > limit
    return jobs, (Cursor(jobs[-1].created_at, jobs[-1].id).encode() if more and jobs else None)


# The listing's columns are JobOut's fields, read as plain rows: a page of 50 entities
# (identity map, attribute instrumentation) and 50 model_validate calls cost more CPU than
# the query itself, for values that go straight to JSON.
_LISTED = tuple(ContentJob.__table__.c[name] for name in JobOut.model_fields)
LISTED_FIELDS = tuple(JobOut.model_fields)


async def list_job_rows(
    conn: PoolConnection,
    scope: OrgScope,
    page: PageParams,
    *,
    status: JobStatus | None = None,
    kind: str | None = None,
) -> tuple[list[tuple[Any, ...]], str | None]:
    """`list_jobs` as rows of JobOut's fields (in `LISTED_FIELDS` order), for the API: on
    the async pool, straight from the driver."""
    cursor = Cursor.decode(page.after) if page.after else None
    values: dict[str, Any] = {"limit": page.limit + 1, **scope.param}
    if cursor is not None:
        values.update(after_created_at=cursor.created_at, after_id=cursor.id)
    if status is not None:
        values["status"] = status.value
    if kind is not None:
        values["kind"] = kind
    statement = _page_statement(cursor is not None, status is not None, kind is not None)
    rows = await statement.all(conn, **values)
    rows, more = rows[: page.limit], len(rows) > page.limit
    last = rows[-1] if more and rows else None
    return rows, (Cursor(last[_CREATED_AT], last[_ID]).encode() if last is not None else None)


@cache
def _page_statement(after: bool, status: bool, kind: bool) -> DriverStatement:
    """The listing's statement for each combination of filters, built once."""
    return DriverStatement(
        _newest_first(
            select(*_LISTED).where(OrgScope.where_param(ContentJob.org_id)),
            limit=bindparam("limit", type_=Integer),
            after=(bindparam("after_created_at"), bindparam("after_id")) if after else None,
            status=bindparam("status") if status else None,
            kind=bindparam("kind") if kind else None,
        )
    )


_CREATED_AT, _ID = LISTED_FIELDS.index("created_at"), LISTED_FIELDS.index("id")


async def count_by_status(conn: PoolConnection, scope: OrgScope) -> dict[str, int]:
    """Every status with its count (0 when none), plus `total`: the sum of the org's rows in
    job_status_counts, kept by the database as jobs change, so a few rows at any org size."""
    counts = dict.fromkeys((s.value for s in JobStatus), 0)
    for status, n in await _counts_statement().all(conn, **scope.param):
        counts[status] = int(n)
    counts["total"] = sum(counts.values())
    return counts


@cache
def _counts_statement() -> DriverStatement:
    return DriverStatement(
        select(JobStatusCount.status, func.sum(JobStatusCount.n))
        .where(OrgScope.where_param(JobStatusCount.org_id))
        .group_by(JobStatusCount.status)
    )


def cancel(session: Session, scope: OrgScope, job_id: uuid.UUID) -> ContentJob:
    """Queued: canceled at once, and its unit given back. Running: cancellation requested;
    the worker running it is told at once (NOTIFY) and its outcome's write honours it."""
    job = get_job(session, scope, job_id)
    canceled = session.execute(
        update(ContentJob)
        .where(ContentJob.id == job_id, ContentJob.status == JobStatus.QUEUED.value)
        .values(
            status=JobStatus.CANCELED.value, finished_at=text("now()"), updated_at=text("now()")
        )
        .returning(ContentJob.id)
    ).scalar()
    if canceled is not None:
        usage.refund_job(session, job_id)
        announce_jobs(
            session, [JobOutcome(job_id, scope.org_id, job.kind, JobStatus.CANCELED.value)]
        )
    else:
        requested = session.execute(
            update(ContentJob)
            .where(ContentJob.id == job_id, ContentJob.status == JobStatus.RUNNING.value)
            .values(
                cancel_requested_at=text("COALESCE(cancel_requested_at, now())"),
                updated_at=text("now()"),
            )
            .returning(ContentJob.id)
        ).scalar()
        if requested is None:
            raise JobStateConflict(f"A {job.status} job can't be canceled.")
        queue.notify_cancel(session.connection(), job_id)
    session.refresh(job)
    return job


def retry(
    session: Session, scope: OrgScope, job_id: uuid.UUID, *, now: datetime | None = None
) -> ContentJob:
    """Run a failed job again: a new run, so it takes a new unit of quota."""
    now = now or datetime.now(UTC)
    job = get_job(session, scope, job_id)
    period = usage.period_of(now)
    requeued = session.execute(
        update(ContentJob)
        .where(ContentJob.id == job_id, ContentJob.status == JobStatus.FAILED.value)
        .values(
            status=JobStatus.QUEUED.value,
            attempts=0,
            error=None,
            run_after=text("now()"),
            finished_at=None,
            cancel_requested_at=None,
            quota_period=period,
            quota_refunded_at=None,
            updated_at=text("now()"),
        )
        .returning(ContentJob.id)
    ).scalar()
    if requeued is None:
        raise JobStateConflict(f"Only failed jobs can be retried; this one is {job.status}.")
    plan = plan_now(session, scope)
    queue.notify(session.connection())
    session.refresh(job)
    # Last, as in submit: the counter row is locked from here until commit.
    usage.consume(session, scope, limit=plan.monthly_quota, now=now)
    return job


def list_artifacts(
    session: Session, scope: OrgScope, job_id: uuid.UUID, *, type: str | None = None
) -> list[ContentArtifact]:
    get_job(session, scope, job_id)
    query = select(ContentArtifact).where(ContentArtifact.job_id == job_id)
    if type is not None:
        query = query.where(ContentArtifact.type == type)
    return list(session.execute(query.order_by(ContentArtifact.type, ContentArtifact.id)).scalars())


def get_artifact(session: Session, scope: OrgScope, artifact_id: uuid.UUID) -> ContentArtifact:
    artifact = session.execute(
        select(ContentArtifact).where(
            ContentArtifact.id == artifact_id, scope.where(ContentArtifact.org_id)
        )
    ).scalar_one_or_none()
    if artifact is None:
        raise ArtifactNotFound("Artifact not found.")
    return artifact
