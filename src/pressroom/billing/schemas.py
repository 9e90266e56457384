"""What billing returns to the dashboard (the org-scoped routes serialize these)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from pressroom.billing.plans import Plan
from pressroom.generation.kinds import JobKind


class PlanLimits(BaseModel):
    name: str
    monthly_quota: int
    max_concurrent_jobs: int
    allowed_kinds: list[JobKind]
    max_priority: int

    @classmethod
    def of(cls, plan: Plan) -> PlanLimits:
        return cls(
            name=plan.name,
            monthly_quota=plan.monthly_quota,
            max_concurrent_jobs=plan.max_concurrent_jobs,
            allowed_kinds=sorted(plan.allowed_kinds),
            max_priority=plan.max_priority,
        )


class SubscriptionView(BaseModel):
    org_id: uuid.UUID
    plan: PlanLimits = Field(description="The plan in force now (free unless access is granted).")
    has_access: bool = Field(description="The subscription's status grants its plan.")
    status: str | None = Field(description="Provider status; null when the org never subscribed.")
    provider: str | None
    subscribed_plan: str | None = Field(description="The plan the subscription is for.")
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None


class CheckoutRequest(BaseModel):
    plan: str = Field(min_length=1, examples=["pro"])
    success_url: str = Field(min_length=1, max_length=2048)
    cancel_url: str = Field(min_length=1, max_length=2048)


class PortalRequest(BaseModel):
    return_url: str = Field(min_length=1, max_length=2048)


class RedirectUrl(BaseModel):
    """Where to send the browser: the provider's hosted checkout or billing portal."""

    url: str
    session_id: str
