"""A realistic Stripe subscription lifecycle, as the events Stripe sends for it, in the
order they happened, with the state each subscription event leaves behind."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tests.billing import stripe_events as se

PERIOD = 30 * 86_400


@dataclass(frozen=True)
class Expected:
    status: str
    plan: str
    period: tuple[int, int]
    cancel_at_period_end: bool
    canceled_at: int | None
    as_of: int

    def matches(self, row: Any) -> dict[str, tuple[Any, Any]]:
        """Field -> (expected, actual) for every field that differs."""

        def ts(t: int | None) -> datetime | None:
            return None if t is None else datetime.fromtimestamp(t, tz=UTC)

        want = {
            "status": self.status,
            "plan": self.plan,
            "current_period_start": ts(self.period[0]),
            "current_period_end": ts(self.period[1]),
            "cancel_at_period_end": self.cancel_at_period_end,
            "canceled_at": ts(self.canceled_at),
            "state_as_of": ts(self.as_of),
        }
        return {k: (v, getattr(row, k)) for k, v in want.items() if getattr(row, k) != v}


@dataclass(frozen=True)
class Lifecycle:
    org_id: uuid.UUID
    sub_id: str
    customer: str
    events: list[dict[str, Any]]
    expected: Expected


def build(org_id: uuid.UUID, t0: int, *, steps: int, org_in_metadata: bool, tag: str) -> Lifecycle:
    """The first `steps` subscription changes (1..7) of: created (incomplete), first payment
    (active, same second), renewal fails (past_due), retry paid (active), cancel requested
    (cancel_at_period_end), canceled at period end, plus the checkout and invoice events
    around them."""
    sub, cus = f"sub_{tag}", f"cus_{tag}"
    meta = str(org_id) if org_in_metadata else None
    p1, p2 = (t0, t0 + PERIOD), (t0 + PERIOD, t0 + 2 * PERIOD)
    cancel_req = t0 + PERIOD + 7200
    n = 0

    def evt(kind: str, obj: dict[str, Any], created: int) -> dict[str, Any]:
        nonlocal n
        n += 1
        return se.event(f"evt_{tag}_{n:02d}", kind, obj, created)

    def sub_evt(kind: str, created: int, status: str, period: tuple[int, int], **kw: Any) -> tuple:
        obj = se.subscription(sub, customer=cus, status=status, period=period, org_id=meta, **kw)
        exp = Expected(
            status,
            "pro",
            period,
            kw.get("cancel_at_period_end", False),
            kw.get("canceled_at"),
            created,
        )
        return evt(kind, obj, created), exp

    def invoice_evt(kind: str, created: int) -> dict[str, Any]:
        inv = se.invoice(f"in_{tag}_{n:02d}", customer=cus, sub_id=sub, paid=kind == "invoice.paid")
        return evt(kind, inv, created)

    changes = [
        ([], sub_evt("customer.subscription.created", t0, "incomplete", p1)),
        (
            [invoice_evt("invoice.paid", t0)],
            sub_evt("customer.subscription.updated", t0, "active", p1),
        ),
        (
            [invoice_evt("invoice.payment_failed", t0 + PERIOD)],
            sub_evt("customer.subscription.updated", t0 + PERIOD, "past_due", p2),
        ),
        (
            [invoice_evt("invoice.paid", t0 + PERIOD + 3600)],
            sub_evt("customer.subscription.updated", t0 + PERIOD + 3600, "active", p2),
        ),
        (
            [],
            sub_evt(
                "customer.subscription.updated",
                cancel_req,
                "active",
                p2,
                cancel_at_period_end=True,
                canceled_at=cancel_req,
            ),
        ),
        (
            [],
            sub_evt(
                "customer.subscription.deleted",
                t0 + 2 * PERIOD,
                "canceled",
                p2,
                cancel_at_period_end=True,
                canceled_at=cancel_req,
            ),
        ),
        (
            [],
            sub_evt(
                "customer.subscription.updated",
                t0 + 2 * PERIOD + 60,
                "canceled",
                p2,
                cancel_at_period_end=True,
                canceled_at=cancel_req,
            ),
        ),
    ][:steps]
    checkout = evt(
        "checkout.session.completed",
        se.checkout_session(org_id=str(org_id), customer=cus, sub_id=sub),
        t0,
    )
    events = [checkout]
    for extra, (sub_event, _) in changes:
        events += [*extra, sub_event]
    return Lifecycle(org_id, sub, cus, events, changes[-1][1][1])
