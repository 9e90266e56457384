"""Applying provider-neutral changes to `subscriptions`, order- and duplicate-safe.

The final row must not depend on delivery order. Each snapshot carries a key, and a
snapshot replaces the row only if its key is greater than the row's:

    (terminal?, state_as_of, status rank, period end, cancel_at_period_end, canceled_at,
     period start, plan)

- terminal first: `canceled` and `incomplete_expired` are final at the provider, so nothing
  (not even a later-dated snapshot) brings such a subscription back;
- then the event time (the watermark, `state_as_of`): an older delivery never overwrites
  a newer one;
- the remaining fields break same-second ties by content, so among all snapshots one is
  the greatest whatever the order; two snapshots with equal keys write the same row.

Concurrent deliveries for one subscription serialize on a transaction-scoped advisory lock
keyed by the provider's subscription id, taken before the row is even looked up: a row
lock alone cannot cover a row that another transaction is inserting, and without it an
event could miss the org that a concurrent checkout is linking (and wait forever). The
row itself is also read FOR UPDATE. Services never commit.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pressroom.billing.models import Subscription
from pressroom.billing.plans import FREE_PLAN, PlanCatalog
from pressroom.billing.providers.base import CheckoutLink, EventError, SubscriptionSnapshot
from pressroom.orgs.models import Organization

log = logging.getLogger(__name__)

TERMINAL_STATUSES = frozenset({"canceled", "incomplete_expired"})
# Only breaks ties between snapshots of the same second: the usual direction of travel.
STATUS_RANK = {
    "incomplete": 0,
    "trialing": 1,
    "active": 2,
    "past_due": 3,
    "unpaid": 4,
    "paused": 5,
    "canceled": 6,
    "incomplete_expired": 6,
}
_EPOCH = datetime.min.replace(tzinfo=UTC)

_STATE_COLUMNS = (
    Subscription.id,
    Subscription.org_id,
    Subscription.provider_customer_id,
    Subscription.plan,
    Subscription.status,
    Subscription.current_period_start,
    Subscription.current_period_end,
    Subscription.cancel_at_period_end,
    Subscription.canceled_at,
    Subscription.state_as_of,
)


def state_key(state: dict[str, Any]) -> tuple[Any, ...]:
    return (
        state["status"] in TERMINAL_STATUSES,
        state["state_as_of"] or _EPOCH,
        STATUS_RANK[state["status"]],
        state["current_period_end"] or _EPOCH,
        bool(state["cancel_at_period_end"]),
        state["canceled_at"] or _EPOCH,
        state["current_period_start"] or _EPOCH,
        state["plan"],
    )


def plan_for_snapshot(catalog: PlanCatalog, provider: str, snap: SubscriptionSnapshot) -> str:
    for price_id in snap.price_ids:
        plan = catalog.plan_for_price(provider, price_id)
        if plan is not None:
            return plan.name
    # Access still follows the status; the stored event keeps the price for a later fix.
    log.warning(
        "subscription %s has no price in the plan catalog (%s); plan %s",
        snap.subscription_id,
        ", ".join(snap.price_ids) or "no items",
        FREE_PLAN,
    )
    return FREE_PLAN


def _serialize(session: Session, provider: str, subscription_id: str) -> None:
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"billing:{provider}:{subscription_id}"},
    )


def _lock(session: Session, provider: str, subscription_id: str) -> dict[str, Any] | None:
    row = session.execute(
        select(*_STATE_COLUMNS)
        .where(
            Subscription.provider == provider,
            Subscription.provider_subscription_id == subscription_id,
        )
        .with_for_update()
    ).first()
    return None if row is None else row._asdict()


def _insert(session: Session, values: dict[str, Any]) -> bool:
    """Insert the row unless a concurrent or earlier delivery did; True if we did."""
    inserted = session.execute(
        insert(Subscription)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["provider", "provider_subscription_id"])
        .returning(Subscription.id)
    ).first()
    return inserted is not None


def _org_exists(session: Session, org_id: uuid.UUID) -> bool:
    found = session.execute(select(Organization.id).where(Organization.id == org_id)).first()
    return found is not None


def _resolve_org(session: Session, provider: str, snap: SubscriptionSnapshot) -> uuid.UUID:
    if snap.org_id is not None:
        if not _org_exists(session, snap.org_id):
            raise EventError(f"organization {snap.org_id} does not exist")
        return snap.org_id
    if snap.customer_id is not None:
        # Another subscription of the same customer already tells us the org.
        known = session.execute(
            select(Subscription.org_id)
            .where(
                Subscription.provider == provider,
                Subscription.provider_customer_id == snap.customer_id,
            )
            .limit(1)
        ).scalar()
        if known is not None:
            return known
    raise EventError(
        f"no organization known for subscription {snap.subscription_id} yet "
        "(kept until its checkout completes or it is reprocessed)"
    )


def apply_snapshot(
    session: Session, provider: str, snap: SubscriptionSnapshot, catalog: PlanCatalog
) -> bool:
    """Bring the subscription row up to `snap` unless the row is already newer.
    True if the row changed."""
    state = {
        "provider_customer_id": snap.customer_id,
        "plan": plan_for_snapshot(catalog, provider, snap),
        "status": snap.status,
        "current_period_start": snap.current_period_start,
        "current_period_end": snap.current_period_end,
        "cancel_at_period_end": snap.cancel_at_period_end,
        "canceled_at": snap.canceled_at,
        "state_as_of": snap.as_of,
    }
    _serialize(session, provider, snap.subscription_id)
    row = _lock(session, provider, snap.subscription_id)
    if row is None:
        org_id = _resolve_org(session, provider, snap)
        values = {
            "org_id": org_id,
            "provider": provider,
            "provider_subscription_id": snap.subscription_id,
            **state,
        }
        if _insert(session, values):
            return True
        row = _lock(session, provider, snap.subscription_id)
        assert row is not None  # the conflicting insert has committed
    if state_key(state) <= state_key(row):
        return False
    if state["provider_customer_id"] is None:
        state["provider_customer_id"] = row["provider_customer_id"]
    session.execute(update(Subscription).where(Subscription.id == row["id"]).values(**state))
    return True


def apply_link(session: Session, provider: str, link: CheckoutLink) -> bool:
    """Record that `link.org_id` owns the subscription. The checkout names the org
    authoritatively (whatever order the events came in); status stays the snapshots' job.
    True if the row changed."""
    if not _org_exists(session, link.org_id):
        raise EventError(f"organization {link.org_id} does not exist")
    _serialize(session, provider, link.subscription_id)
    row = _lock(session, provider, link.subscription_id)
    if row is None:
        # A placeholder with no watermark: the first snapshot of any age replaces it.
        placeholder = {
            "org_id": link.org_id,
            "provider": provider,
            "provider_subscription_id": link.subscription_id,
            "provider_customer_id": link.customer_id,
            "plan": FREE_PLAN,
            "status": "incomplete",
            "state_as_of": None,
        }
        if _insert(session, placeholder):
            return True
        row = _lock(session, provider, link.subscription_id)
        assert row is not None
    changes: dict[str, Any] = {}
    if row["org_id"] != link.org_id:
        changes["org_id"] = link.org_id
    if row["provider_customer_id"] is None and link.customer_id is not None:
        changes["provider_customer_id"] = link.customer_id
    if changes:
        session.execute(update(Subscription).where(Subscription.id == row["id"]).values(**changes))
    return bool(changes)
