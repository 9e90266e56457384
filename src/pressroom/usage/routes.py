"""GET /v1/orgs/{org_id}/usage: this month against the plan, and the months before."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from pressroom.billing.plans import effective_plan
from pressroom.db.deps import DbSession
from pressroom.errors import NotFound, error_responses
from pressroom.orgs.access import OrgAccess, require
from pressroom.orgs.permissions import Permission
from pressroom.usage import service
from pressroom.usage.models import UsageCounter

router = APIRouter(prefix="/orgs/{org_id}", tags=["usage"])

HISTORY_MONTHS = 12


class MonthUsage(BaseModel):
    period_month: date
    jobs_used: int


class UsageOut(BaseModel):
    plan: str
    period_month: date
    jobs_used: int
    jobs_limit: int
    jobs_remaining: int
    resets_at: datetime
    history: list[MonthUsage]


@router.get("/usage", response_model=UsageOut, responses=error_responses(NotFound))
def get_usage(
    access: Annotated[OrgAccess, require(Permission.USAGE_READ)], session: DbSession
) -> UsageOut:
    period = service.period_of(datetime.now(UTC))
    plan = effective_plan(session, access.org_id)
    rows = session.execute(
        select(UsageCounter.period_month, UsageCounter.jobs_used)
        .where(UsageCounter.org_id == access.org_id, UsageCounter.period_month <= period)
        .order_by(UsageCounter.period_month.desc())
        .limit(HISTORY_MONTHS + 1)
    ).all()
    used = next((n for month, n in rows if month == period), 0)
    return UsageOut(
        plan=plan.name,
        period_month=period,
        jobs_used=used,
        jobs_limit=plan.monthly_quota,
        jobs_remaining=max(plan.monthly_quota - used, 0),
        resets_at=service.period_reset_at(period),
        history=[MonthUsage(period_month=m, jobs_used=n) for m, n in rows if m != period],
    )
