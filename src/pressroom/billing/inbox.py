"""The webhook inbox (`billing_events`): store each verified event once, apply it, and keep
what could not be applied with its error until a redelivery or `pressroom billing
reprocess` applies it.

A new event is stored and applied in one transaction; if applying fails, the caller rolls
back and, in a new transaction, stores the event and applies it as a stored event
(`retry_after_rollback`). A stored event (also on redelivery, reprocess, or its checkout
arriving) is applied inside a savepoint, so a failure there rolls back only its own
partial work and leaves `error` and `attempts` on its row.
Never lost, never half-applied. Services never commit; callers own the transactions.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from pressroom.billing.models import BillingEvent
from pressroom.billing.plans import PlanCatalog
from pressroom.billing.providers.base import (
    CheckoutLink,
    EventError,
    InboundEvent,
    WebhookProvider,
)
from pressroom.billing.subscriptions import apply_link, apply_snapshot, serialize_with_subscription
from pressroom.db.base import new_id
from pressroom.db.session import driver_connection

log = logging.getLogger(__name__)

ERROR_MAX_CHARS = 2000


class Outcome(enum.StrEnum):
    PROCESSED = "processed"  # stored (now or before) and applied by this delivery
    DUPLICATE = "duplicate"  # already applied, or being applied by a concurrent delivery
    FAILED = "failed"  # stored, not applied: kept with its error for a retry


def _values(provider: str, event: InboundEvent) -> dict[str, Any]:
    return {
        "provider": provider,
        "provider_event_id": event.provider_event_id,
        "type": event.type,
        "payload": event.payload,
        "provider_created_at": event.created_at,
    }


class Stored(enum.Enum):
    NEW = "new"  # inserted by this statement (already marked applied)
    APPLIED = "applied"  # stored and applied before: a duplicate
    PENDING = "pending"  # stored before, not applied yet (failed, or waiting for its org)
    UNSEEN = "unseen"  # a concurrent transaction stored it after this statement began


# One round trip: insert the event already marked applied (the caller applies it in the
# same transaction, or rolls everything back), and report a conflicting row's state.
# Both parts read one snapshot, so the second never sees the row the first inserts; a row
# that a concurrent transaction committed after the snapshot conflicts but is not seen
# (UNSEEN). The payload is the signed bytes as text: PostgreSQL parses them into the same
# jsonb, and we skip serializing a ~5 KB dict again. Plain SQL on the driver connection
# (db.session.driver_connection): it runs on every delivery, and building and executing
# it through the expression language cost more CPU than the rest of the transaction.
_STORE = """
    WITH inserted AS (
        INSERT INTO billing_events (id, provider, provider_event_id, type, payload,
                                    provider_created_at, processed_at, attempts)
        VALUES (%(id)s, %(provider)s, %(provider_event_id)s, %(type)s, %(payload)s::jsonb,
                %(provider_created_at)s, now(), 1)
        ON CONFLICT ON CONSTRAINT uq_billing_events_provider_event_id DO NOTHING
        RETURNING id
    )
    SELECT id, true AS new, false AS applied FROM inserted
    UNION ALL
    SELECT id, false, processed_at IS NOT NULL FROM billing_events
    WHERE provider = %(provider)s AND provider_event_id = %(provider_event_id)s
"""


def _store(session: Session, provider: str, event: InboundEvent) -> tuple[Stored, uuid.UUID | None]:
    """Store a new event (see _STORE); a duplicate of an applied one costs this alone."""
    raw = event.raw if event.raw is not None else orjson.dumps(event.payload)
    params = {**_values(provider, event), "id": new_id(), "payload": raw.decode()}
    row = driver_connection(session).execute(_STORE, params).fetchone()
    if row is None:
        return Stored.UNSEEN, None
    event_id, new, applied = row
    if new:
        return Stored.NEW, event_id
    return (Stored.APPLIED if applied else Stored.PENDING), event_id


def _claim_stored(
    session: Session, provider: str, provider_event_id: str
) -> tuple[uuid.UUID, InboundEvent] | None:
    """The stored, not yet applied event, locked; None if applied or locked elsewhere."""
    row = session.execute(
        select(
            BillingEvent.id,
            BillingEvent.type,
            BillingEvent.provider_created_at,
            BillingEvent.payload,
        )
        .where(
            BillingEvent.provider == provider,
            BillingEvent.provider_event_id == provider_event_id,
            BillingEvent.processed_at.is_(None),
        )
        .with_for_update(skip_locked=True)
    ).first()
    if row is None:
        return None
    return row.id, InboundEvent(provider_event_id, row.type, row.provider_created_at, row.payload)


def describe(exc: Exception) -> str:
    text = str(exc) if isinstance(exc, EventError) else f"{type(exc).__name__}: {exc}"
    return text[:ERROR_MAX_CHARS]


def _log_failure(provider: str, event: InboundEvent, exc: Exception) -> None:
    expected = isinstance(exc, EventError)
    log.log(
        logging.INFO if expected else logging.ERROR,
        "billing event %s/%s (%s) not applied: %s",
        provider,
        event.provider_event_id,
        event.type,
        describe(exc),
        exc_info=not expected,
    )


def _apply_changes(
    session: Session, provider: WebhookProvider, event: InboundEvent, catalog: PlanCatalog
) -> list[str]:
    """Apply the event's changes (raising if it cannot be applied); the subscriptions it
    linked to an org."""
    linked: list[str] = []
    for change in provider.interpret(event):
        if isinstance(change, CheckoutLink):
            apply_link(session, provider.name, change)
            linked.append(change.subscription_id)
        else:
            apply_snapshot(session, provider.name, change, catalog)
    return linked


def _apply_stored(
    session: Session,
    provider: WebhookProvider,
    event_id: uuid.UUID,
    event: InboundEvent,
    catalog: PlanCatalog,
) -> bool:
    """Apply a stored event in a savepoint; on failure keep its error instead."""
    subscription_id = provider.subscription_ref.of(event)
    if subscription_id is not None:
        # Taken before the savepoint so that it is held to commit: rolling the savepoint
        # back would release a lock taken inside it, and a checkout linking this
        # subscription could then commit, skipping this locked row as it looks for the
        # events waiting for its org, before the failure is recorded and the row unlocked.
        serialize_with_subscription(session, provider.name, subscription_id)
    try:
        with session.begin_nested():
            linked = _apply_changes(session, provider, event, catalog)
            session.execute(
                update(BillingEvent)
                .where(BillingEvent.id == event_id)
                .values(processed_at=func.now(), attempts=BillingEvent.attempts + 1, error=None)
            )
    except Exception as exc:
        _log_failure(provider.name, event, exc)
        session.execute(
            update(BillingEvent)
            .where(BillingEvent.id == event_id)
            .values(attempts=BillingEvent.attempts + 1, error=describe(exc))
        )
        return False
    for subscription_id in linked:
        _apply_waiting(session, provider, subscription_id, catalog, exclude=event_id)
    return True


def _apply_waiting(
    session: Session,
    provider: WebhookProvider,
    subscription_id: str,
    catalog: PlanCatalog,
    *,
    exclude: uuid.UUID | None,
) -> None:
    """Apply the stored events of a subscription that were waiting for its org."""
    ref = provider.subscription_ref
    # Matched in SQL, among the pending events only (ix_billing_events_pending): however
    # many other events wait or failed, this subscription's are all found.
    query = (
        select(
            BillingEvent.id,
            BillingEvent.provider_event_id,
            BillingEvent.type,
            BillingEvent.provider_created_at,
            BillingEvent.payload,
        )
        .where(
            BillingEvent.provider == provider.name,
            BillingEvent.processed_at.is_(None),
            BillingEvent.type.startswith(ref.event_prefix, autoescape=True),
            BillingEvent.payload[ref.id_path].astext == subscription_id,
        )
        .order_by(BillingEvent.received_at)
        .with_for_update(skip_locked=True)
    )
    if exclude is not None:
        query = query.where(BillingEvent.id != exclude)
    for row in session.execute(query).all():
        event = InboundEvent(row.provider_event_id, row.type, row.provider_created_at, row.payload)
        _apply_stored(session, provider, row.id, event, catalog)


def receive(
    session: Session, provider: WebhookProvider, event: InboundEvent, catalog: PlanCatalog
) -> Outcome:
    """Store a verified event (once) and apply it if it has not been applied yet.

    A new event costs one insert plus the subscription's lock-and-read and (if newer)
    update: it is stored already marked applied, in the transaction that applies it. A
    duplicate of an applied event costs the insert alone (nothing written). If applying
    raises, the caller rolls the transaction back and calls `retry_after_rollback` in a
    new one, so the event is kept with its error either way.
    """
    stored, event_id = _store(session, provider.name, event)
    if stored is Stored.NEW:
        assert event_id is not None
        for subscription_id in _apply_changes(session, provider, event, catalog):
            _apply_waiting(session, provider, subscription_id, catalog, exclude=event_id)
        return Outcome.PROCESSED
    if stored is Stored.APPLIED:
        return Outcome.DUPLICATE
    # A redelivery of a kept event (or of one stored a moment ago by a concurrent
    # delivery): apply it only if it is still not applied and nobody else is on it.
    claimed = _claim_stored(session, provider.name, event.provider_event_id)
    if claimed is None:
        return Outcome.DUPLICATE
    event_id, stored_event = claimed
    ok = _apply_stored(session, provider, event_id, stored_event, catalog)
    return Outcome.PROCESSED if ok else Outcome.FAILED


def retry_after_rollback(
    session: Session, provider: WebhookProvider, event: InboundEvent, catalog: PlanCatalog
) -> Outcome:
    """Apply an event whose first transaction failed and rolled back, this time the way a
    kept event is applied: stored first, then applied in a savepoint, so a second failure
    keeps it with its error. A concurrent delivery that applied it meanwhile wins.

    The second try is not only for transient errors. Rolling back released the
    subscription's lock, and a checkout linking the org may have committed in that gap,
    after it looked for the events waiting for that org and before this one was stored;
    now `_apply_stored` holds the lock, so the checkout either committed first (and this
    try finds the org) or waits and then finds this event waiting.
    """
    stmt = insert(BillingEvent).values(**_values(provider.name, event), attempts=0)
    kept = session.execute(
        # DO UPDATE, not DO NOTHING: a row already kept is locked like a claimed one.
        stmt.on_conflict_do_update(
            constraint="uq_billing_events_provider_event_id",
            set_={"attempts": BillingEvent.attempts},
            where=BillingEvent.processed_at.is_(None),
        ).returning(BillingEvent.id)
    ).scalar()
    if kept is None:
        return Outcome.DUPLICATE
    ok = _apply_stored(session, provider, kept, event, catalog)
    return Outcome.PROCESSED if ok else Outcome.FAILED


@dataclass
class ReprocessReport:
    attempted: int = 0
    processed: int = 0
    failed: int = 0


def reprocess(
    session: Session,
    providers: Mapping[str, WebhookProvider],
    catalog: PlanCatalog,
    *,
    provider: str | None = None,
    event_id: str | None = None,
    limit: int = 1000,
) -> ReprocessReport:
    """Apply stored events that are not applied yet, oldest first."""
    query = (
        select(
            BillingEvent.id,
            BillingEvent.provider,
            BillingEvent.provider_event_id,
            BillingEvent.type,
            BillingEvent.provider_created_at,
            BillingEvent.payload,
        )
        .where(BillingEvent.processed_at.is_(None))
        .order_by(BillingEvent.received_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if provider is not None:
        query = query.where(BillingEvent.provider == provider)
    if event_id is not None:
        query = query.where(BillingEvent.provider_event_id == event_id)
    report = ReprocessReport()
    for row in session.execute(query).all():
        impl = providers.get(row.provider)
        if impl is None or _applied_since(session, row.id):
            continue
        report.attempted += 1
        event = InboundEvent(row.provider_event_id, row.type, row.provider_created_at, row.payload)
        if _apply_stored(session, impl, row.id, event, catalog):
            report.processed += 1
        else:
            report.failed += 1
    return report


def _applied_since(session: Session, event_id: uuid.UUID) -> bool:
    # A checkout applied earlier in this run may have applied its waiting events already.
    return (
        session.execute(
            select(BillingEvent.processed_at).where(BillingEvent.id == event_id)
        ).scalar()
        is not None
    )


def pending_count(session: Session) -> int:
    return session.execute(
        select(func.count()).select_from(BillingEvent).where(BillingEvent.processed_at.is_(None))
    ).scalar_one()
