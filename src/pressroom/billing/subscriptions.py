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

from psycopg.rows import dict_row
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pressroom.billing.models import Subscription
from pressroom.billing.plans import FREE_PLAN, PlanCatalog
from pressroom.billing.providers.base import CheckoutLink, EventError, SubscriptionSnapshot
from pressroom.db.session import driver_connection
from pressroom.orgs.models import Organization
from pressroom.webhooks.events import announce_subscription

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


def _lock_key(provider: str, subscription_id: str) -> str:
    return f"billing:{provider}:{subscription_id}"


_TAKE_LOCK = "pg_advisory_xact_lock(hashtextextended(%(key)s, 0))"


def serialize_with_subscription(session: Session, provider: str, subscription_id: str) -> None:
    """Take the subscription's advisory lock (the one `apply_snapshot` and `apply_link`
    take) until the transaction ends."""
    driver_connection(session).execute(
        f"SELECT {_TAKE_LOCK}", {"key": _lock_key(provider, subscription_id)}
    )


# The advisory lock and the row read in one round trip. The lock is an uncorrelated
# EXISTS over a materialized CTE, so PostgreSQL evaluates it once, before scanning (a
# one-time filter): the lock is held even when no row exists. The statement's snapshot
# predates the wait for the lock, but FOR UPDATE returns the newest committed version of
# a row it finds; a row inserted while we waited is not found, and the caller's insert
# then conflicts and reads it again (_lock, a new snapshot).
# Plain SQL on the driver connection, like the inbox insert: every new event runs it.
_SERIALIZE_AND_LOCK = f"""
    WITH serialized AS MATERIALIZED (SELECT {_TAKE_LOCK})
    SELECT id, org_id, provider_customer_id, plan, status, current_period_start,
           current_period_end, cancel_at_period_end, canceled_at, state_as_of
    FROM subscriptions
    WHERE provider = %(provider)s AND provider_subscription_id = %(subscription_id)s
      AND EXISTS (SELECT FROM serialized)
    FOR UPDATE OF subscriptions
"""
_UPDATE_STATE = """
    UPDATE subscriptions
    SET provider_customer_id = %(provider_customer_id)s, plan = %(plan)s,
        status = %(status)s, current_period_start = %(current_period_start)s,
        current_period_end = %(current_period_end)s,
        cancel_at_period_end = %(cancel_at_period_end)s, canceled_at = %(canceled_at)s,
        state_as_of = %(state_as_of)s, updated_at = now()
    WHERE id = %(id)s
"""


def _serialize_and_lock(
    session: Session, provider: str, subscription_id: str
) -> dict[str, Any] | None:
    """Take the subscription's advisory lock, then read its row FOR UPDATE."""
    params = {
        "key": _lock_key(provider, subscription_id),
        "provider": provider,
        "subscription_id": subscription_id,
    }
    with driver_connection(session).cursor(row_factory=dict_row) as cursor:
        return cursor.execute(_SERIALIZE_AND_LOCK, params).fetchone()


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
    return session.get(Organization, org_id) is not None


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
    row = _serialize_and_lock(session, provider, snap.subscription_id)
    if row is None:
        org_id = _resolve_org(session, provider, snap)
        values = {
            "org_id": org_id,
            "provider": provider,
            "provider_subscription_id": snap.subscription_id,
            **state,
        }
        if _insert(session, values):
            announce_subscription(session, org_id, provider, state)
            return True
        row = _lock(session, provider, snap.subscription_id)
        assert row is not None  # the conflicting insert has committed
    if state_key(state) <= state_key(row):
        return False
    if state["provider_customer_id"] is None:
        state["provider_customer_id"] = row["provider_customer_id"]
    driver_connection(session).execute(_UPDATE_STATE, {**state, "id": row["id"]})
    announce_subscription(session, row["org_id"], provider, state)
    return True


def apply_link(session: Session, provider: str, link: CheckoutLink) -> bool:
    """Record that `link.org_id` owns the subscription. The checkout names the org
    authoritatively (whatever order the events came in); status stays the snapshots' job.
    True if the row changed."""
    if not _org_exists(session, link.org_id):
        raise EventError(f"organization {link.org_id} does not exist")
    row = _serialize_and_lock(session, provider, link.subscription_id)
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
