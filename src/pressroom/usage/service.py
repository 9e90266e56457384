"""Usage metering: one unit per job, per organization, per UTC calendar month.

Consuming quota is ONE statement — an upsert whose UPDATE only happens while there is room —
so concurrent submissions can never overshoot the limit (no read-then-write race).
Giving a unit back is guarded by the job's `quota_refunded_at`, so it happens at most once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Connection, select, text
from sqlalchemy.orm import Session

from pressroom.billing.plans import plan_now
from pressroom.db.async_pool import DriverStatement, PoolConnection
from pressroom.db.base import new_id
from pressroom.db.tenancy import OrgScope
from pressroom.errors import PaymentRequired
from pressroom.orgs.models import Organization
from pressroom.usage.models import UsageCounter
from pressroom.webhooks.events import announce_usage, emit_on_pool, usage_threshold_events


def period_of(moment: datetime) -> date:
    """The usage month (its first day) that `moment` falls in, in UTC."""
    utc = moment.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def next_period(period: date) -> date:
    return date(period.year + period.month // 12, period.month % 12 + 1, 1)


def period_reset_at(period: date) -> datetime:
    nxt = next_period(period)
    return datetime(nxt.year, nxt.month, 1, tzinfo=UTC)


class QuotaExceeded(PaymentRequired):
    code = "quota_exceeded"
    title = "Monthly job quota exhausted"


# `seen` is the counter as committed when the statement began. When it already leaves no
# room, the upsert is skipped altogether: ON CONFLICT DO UPDATE locks the counter row even
# when its WHERE then refuses, and the lock lasts until the transaction ends, so refused
# requests would queue on the row exactly like accepted ones. When there seems to be room,
# the locked upsert re-checks the latest value and stays the only judge: never an overshoot.
_CONSUME = text(
    """
    WITH seen AS (
        SELECT jobs_used FROM usage_counters WHERE org_id = :org_id AND period_month = :period
    ), taken AS (
        INSERT INTO usage_counters (id, org_id, period_month, jobs_used)
        SELECT :id, :org_id, :period, :n
        WHERE :n <= :limit AND NOT EXISTS (SELECT FROM seen WHERE jobs_used + :n > :limit)
        ON CONFLICT (org_id, period_month) DO UPDATE
            SET jobs_used = usage_counters.jobs_used + EXCLUDED.jobs_used, updated_at = now()
            WHERE usage_counters.jobs_used + EXCLUDED.jobs_used <= :limit
        RETURNING jobs_used
    )
    SELECT (SELECT jobs_used FROM taken), (SELECT jobs_used FROM seen)
    """
)

_USED = text(
    "SELECT jobs_used FROM usage_counters WHERE org_id = :org_id AND period_month = :period"
)


@dataclass(frozen=True)
class Consumed:
    period: date
    used: int
    limit: int


def consume(
    session: Session, scope: OrgScope, *, limit: int, now: datetime, n: int = 1
) -> Consumed:
    """Take `n` units of this month's quota, or raise QuotaExceeded (nothing written)."""
    period = period_of(now)
    taken, seen = session.execute(_CONSUME, _consume_params(scope, period, n, limit)).one()
    if taken is not None:
        announce_usage(
            session, scope.org_id, period, before=int(taken) - n, after=int(taken), limit=limit
        )
        return Consumed(period, int(taken), limit)
    used = int(seen or 0)
    if used + n <= limit:  # room when the statement began, none at the lock: read it again
        used = session.execute(_USED, {"org_id": scope.org_id, "period": period}).scalar() or 0
    raise quota_exceeded(used, limit, period)


async def consume_on_pool(
    conn: PoolConnection, scope: OrgScope, *, limit: int, now: datetime, n: int = 1
) -> Consumed:
    """`consume`, in a transaction of the async pool (pressroom.db.async_pool)."""
    period = period_of(now)
    taken, seen = await _consume_on_pool().first(conn, **_consume_params(scope, period, n, limit))
    if taken is not None:
        events = usage_threshold_events(
            scope.org_id, period, before=int(taken) - n, after=int(taken), limit=limit
        )
        await emit_on_pool(conn, events)
        return Consumed(period, int(taken), limit)
    used = int(seen or 0)
    if used + n <= limit:  # room when the statement began, none at the lock: read it again
        row = await _used_on_pool().first(conn, org_id=scope.org_id, period=period)
        used = int(row[0]) if row else 0
    raise quota_exceeded(used, limit, period)


def _consume_params(scope: OrgScope, period: date, n: int, limit: int) -> dict[str, Any]:
    return {"id": new_id(), "org_id": scope.org_id, "period": period, "n": n, "limit": limit}


@cache
def _consume_on_pool() -> DriverStatement:
    return DriverStatement(_CONSUME)


@cache
def _used_on_pool() -> DriverStatement:
    return DriverStatement(_USED)


def quota_exceeded(used: int, limit: int, period: date) -> QuotaExceeded:
    reset = period_reset_at(period)
    return QuotaExceeded(
        f"monthly job quota reached: {used} of {limit} jobs used; resets at {reset.isoformat()}",
        extra={"limit": limit, "used": used, "resets_at": reset.isoformat()},
    )


def jobs_used_now(period: Any) -> ColumnElement[int | None]:
    """The jobs used in `period` by the org of `Organization.id` (correlated): a column
    for a statement that reads the org already (orgs.access's on the async pool)."""
    return (
        select(UsageCounter.jobs_used)
        .where(UsageCounter.org_id == Organization.id, UsageCounter.period_month == period)
        .scalar_subquery()
    )


_REFUND = text(
    """
    WITH job AS (
        UPDATE content_jobs SET quota_refunded_at = now()
        WHERE id = :job_id AND quota_period IS NOT NULL AND quota_refunded_at IS NULL
        RETURNING org_id, quota_period
    )
    UPDATE usage_counters u SET jobs_used = u.jobs_used - 1, updated_at = now()
    FROM job WHERE u.org_id = job.org_id AND u.period_month = job.quota_period
      AND u.jobs_used > 0
    RETURNING u.jobs_used
    """
)


def refund_job(conn: Connection | Session, job_id: uuid.UUID) -> bool:
    """Give back the unit `job_id` consumed; True the first time, False ever after."""
    return conn.execute(_REFUND, {"job_id": job_id}).first() is not None


@dataclass(frozen=True)
class UsageSummary:
    plan: str
    period: date
    used: int
    limit: int
    resets_at: datetime
    history: list[tuple[date, int]]  # earlier months, newest first

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)


def summary(
    session: Session, scope: OrgScope, *, history_months: int, now: datetime | None = None
) -> UsageSummary:
    """This month against the plan's quota, and up to `history_months` months before it."""
    period = period_of(now or datetime.now(UTC))
    plan = plan_now(session, scope)
    rows = session.execute(
        select(UsageCounter.period_month, UsageCounter.jobs_used)
        .where(scope.where(UsageCounter.org_id), UsageCounter.period_month <= period)
        .order_by(UsageCounter.period_month.desc())
        .limit(history_months + 1)
    ).all()
    used = next((n for month, n in rows if month == period), 0)
    return UsageSummary(
        plan=plan.name,
        period=period,
        used=used,
        limit=plan.monthly_quota,
        resets_at=period_reset_at(period),
        history=[(m, n) for m, n in rows if m != period][:history_months],
    )


def daily_usage(session: Session, scope: OrgScope, period: date) -> list[tuple[date, int]]:
    """Units taken on each day of `period` so far (jobs whose unit was not given back).

    By the jobs' creation day, on the (org_id, created_at) index: a retried job counts on
    the day it was first submitted."""
    start = datetime(period.year, period.month, 1, tzinfo=UTC)
    rows = session.execute(
        text(
            "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) FROM content_jobs"
            " WHERE org_id = :org_id AND created_at >= :start AND created_at < :end"
            " AND quota_period = :period AND quota_refunded_at IS NULL"
            " GROUP BY day ORDER BY day"
        ),
        {"org_id": scope.org_id, "start": start, "end": period_reset_at(period), "period": period},
    ).all()
    return [(day, int(n)) for day, n in rows]
