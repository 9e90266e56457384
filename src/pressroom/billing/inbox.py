"""The webhook inbox (`billing_events`): store each verified event once, apply it, and keep
what could not be applied with its error until a redelivery or `pressroom billing
reprocess` applies it.

An event is applied inside a savepoint: if applying fails, its partial work is rolled back
and the event row records `error` and `attempts` in the same transaction, so a failure is
never lost and never half-applied. Services never commit; callers own the transaction.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

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
from pressroom.billing.service import apply_link, apply_snapshot

log = logging.getLogger(__name__)

ERROR_MAX_CHARS = 2000
# Pending events re-examined when a checkout links a subscription (they are few: events
# that arrived before the org was known, or failed).
RELINK_SCAN_LIMIT = 500


class Outcome(enum.StrEnum):
    PROCESSED = "processed"  # stored (now or before) and applied by this delivery
    DUPLICATE = "duplicate"  # already applied, or being applied by a concurrent delivery
    FAILED = "failed"  # stored, not applied: kept with its error for a retry


def store(session: Session, provider: str, event: InboundEvent) -> uuid.UUID | None:
    """Insert the event; None if (provider, provider_event_id) is already stored."""
    return session.execute(
        insert(BillingEvent)
        .values(
            provider=provider,
            provider_event_id=event.provider_event_id,
            type=event.type,
            payload=event.payload,
            provider_created_at=event.created_at,
        )
        .on_conflict_do_nothing(constraint="uq_billing_events_provider_event_id")
        .returning(BillingEvent.id)
    ).scalar()


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


def _describe(exc: Exception) -> str:
    text = str(exc) if isinstance(exc, EventError) else f"{type(exc).__name__}: {exc}"
    return text[:ERROR_MAX_CHARS]


@dataclass
class _Applied:
    ok: bool
    linked: list[str] = field(default_factory=list)


def _apply(
    session: Session,
    provider: WebhookProvider,
    event_id: uuid.UUID,
    event: InboundEvent,
    catalog: PlanCatalog,
) -> _Applied:
    now = datetime.now(UTC)
    try:
        with session.begin_nested():
            linked: list[str] = []
            for change in provider.interpret(event):
                if isinstance(change, CheckoutLink):
                    apply_link(session, provider.name, change)
                    linked.append(change.subscription_id)
                else:
                    apply_snapshot(session, provider.name, change, catalog)
            session.execute(
                update(BillingEvent)
                .where(BillingEvent.id == event_id)
                .values(processed_at=now, attempts=BillingEvent.attempts + 1, error=None)
            )
    except Exception as exc:
        level = logging.INFO if isinstance(exc, EventError) else logging.ERROR
        log.log(
            level,
            "billing event %s/%s (%s) not applied: %s",
            provider.name,
            event.provider_event_id,
            event.type,
            _describe(exc),
            exc_info=not isinstance(exc, EventError),
        )
        session.execute(
            update(BillingEvent)
            .where(BillingEvent.id == event_id)
            .values(attempts=BillingEvent.attempts + 1, error=_describe(exc))
        )
        return _Applied(ok=False)
    return _Applied(ok=True, linked=linked)


def _process(
    session: Session,
    provider: WebhookProvider,
    event_id: uuid.UUID,
    event: InboundEvent,
    catalog: PlanCatalog,
) -> bool:
    applied = _apply(session, provider, event_id, event, catalog)
    for subscription_id in applied.linked:
        _apply_waiting(session, provider, subscription_id, catalog, exclude=event_id)
    return applied.ok


def _apply_waiting(
    session: Session,
    provider: WebhookProvider,
    subscription_id: str,
    catalog: PlanCatalog,
    *,
    exclude: uuid.UUID,
) -> None:
    """Apply the stored events of a subscription that were waiting for its org."""
    rows = session.execute(
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
            BillingEvent.id != exclude,
        )
        .order_by(BillingEvent.received_at)
        .limit(RELINK_SCAN_LIMIT)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        event = InboundEvent(row.provider_event_id, row.type, row.provider_created_at, row.payload)
        if provider.subscription_ref(event) == subscription_id:
            _apply(session, provider, row.id, event, catalog)


def receive(
    session: Session, provider: WebhookProvider, event: InboundEvent, catalog: PlanCatalog
) -> Outcome:
    """Store a verified event (once) and apply it if it has not been applied yet."""
    event_id = store(session, provider.name, event)
    if event_id is None:
        # A redelivery: apply it only if an earlier attempt failed (and nobody else is).
        claimed = _claim_stored(session, provider.name, event.provider_event_id)
        if claimed is None:
            return Outcome.DUPLICATE
        event_id, event = claimed
    ok = _process(session, provider, event_id, event, catalog)
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
        if _process(session, impl, row.id, event, catalog):
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
