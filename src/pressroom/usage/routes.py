"""GET /v1/orgs/{org_id}/usage: this month against the plan, and the months before."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel

from pressroom.db.deps import DbSession
from pressroom.errors import NotFound, error_responses
from pressroom.orgs.access import OrgAccess, require
from pressroom.orgs.permissions import Permission
from pressroom.usage import service

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
    summary = service.summary(session, access.scope, history_months=HISTORY_MONTHS)
    return UsageOut(
        plan=summary.plan,
        period_month=summary.period,
        jobs_used=summary.used,
        jobs_limit=summary.limit,
        jobs_remaining=summary.remaining,
        resets_at=summary.resets_at,
        history=[MonthUsage(period_month=m, jobs_used=n) for m, n in summary.history],
    )
