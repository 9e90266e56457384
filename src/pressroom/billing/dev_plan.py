"""Development only: put an org on a plan without a payment provider, so every job kind
can be tried locally (`pressroom dev set-plan ORG_ID pro`). Production refuses it.

The plan is held the way a paid one is, as a subscription row (provider `dev`, one per
org), so submission, the worker's claim and the org listing read it like any other.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pressroom.billing.models import Subscription
from pressroom.billing.plans import FREE_PLAN, PlanCatalog
from pressroom.errors import InvalidInput, NotFound
from pressroom.orgs.models import Organization

DEV_PROVIDER = "dev"


def set_plan(
    session: Session,
    org_id: uuid.UUID,
    plan: str,
    catalog: PlanCatalog,
    *,
    now: datetime | None = None,
) -> None:
    """Put the org on `plan` (`free` ends the development subscription)."""
    now = now or datetime.now(UTC)
    if plan not in catalog.plans:
        raise InvalidInput(f"plan: {plan!r} is not in the catalog ({', '.join(catalog.plans)})")
    if session.get(Organization, org_id) is None:
        raise NotFound(f"no organization {org_id}")
    free = plan == FREE_PLAN
    values = {
        "status": "canceled" if free else "active",
        "plan": plan,
        "current_period_start": now,
        "current_period_end": now + timedelta(days=30),
        "canceled_at": now if free else None,
        # The newest state of the org's subscriptions, so it is the one that applies.
        "state_as_of": now,
    }
    session.execute(
        insert(Subscription)
        .values(
            org_id=org_id,
            provider=DEV_PROVIDER,
            provider_subscription_id=f"dev_{org_id}",
            **values,
        )
        .on_conflict_do_update(
            index_elements=[Subscription.provider, Subscription.provider_subscription_id],
            set_={**values, "updated_at": now},
        )
    )
