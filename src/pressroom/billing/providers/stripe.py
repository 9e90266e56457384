"""Stripe: `Stripe-Signature` verified by the official library; snapshot events mapped.

Subscription state comes only from Subscription objects (`customer.subscription.*`), which
Stripe sends on every status change. `invoice.paid` / `invoice.payment_failed` are
recorded but change nothing: deriving status from them would make the result depend on
which of two same-second events arrived first (docs/billing.md).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import stripe

from pressroom.billing.models import SUBSCRIPTION_STATUSES
from pressroom.billing.providers.base import (
    Change,
    CheckoutLink,
    EventError,
    InboundEvent,
    InvalidSignature,
    MalformedEvent,
    SubscriptionRef,
    SubscriptionSnapshot,
    from_unix,
    json_body,
    org_id_from,
    ref_id,
    signature_header,
)

SUBSCRIPTION_EVENT_PREFIX = "customer.subscription."
# Events that name the status they announce: Stripe sends `deleted` when a subscription
# has ended (its object then says `canceled`) and `paused` when it enters `paused`. The
# event type wins over an object that disagrees, so a deletion can never read as live.
STATUS_OF_EVENT = {
    "customer.subscription.deleted": "canceled",
    "customer.subscription.paused": "paused",
}


class StripeProvider:
    name = "stripe"
    subscription_ref = SubscriptionRef(SUBSCRIPTION_EVENT_PREFIX, ("data", "object", "id"))

    def __init__(self, secrets: Sequence[str], tolerance_seconds: int = 300) -> None:
        self._secrets = list(secrets)
        self._tolerance = tolerance_seconds

    def verify(self, body: bytes, headers: Mapping[str, str]) -> None:
        header = signature_header(
            headers, "Stripe-Signature", self._secrets, "PRESSROOM_STRIPE_WEBHOOK_SECRET"
        )
        reason = "no signature matches"
        for secret in self._secrets:
            try:
                stripe.WebhookSignature.verify_header(body, header, secret, self._tolerance)
            except stripe.SignatureVerificationError as exc:
                reason = str(exc.user_message or exc)
                continue
            except UnicodeDecodeError:
                raise InvalidSignature("body is not UTF-8") from None
            self._check_not_future(header)
            return
        raise InvalidSignature(f"Stripe-Signature rejected: {reason}")

    def _check_not_future(self, header: str) -> None:
        # The library only rejects old timestamps; a far-future one is just as suspect.
        stamp = next(p[2:] for p in header.split(",") if p.startswith("t="))
        if int(stamp) > time.time() + self._tolerance:
            raise InvalidSignature("Stripe-Signature timestamp is outside the tolerance zone")

    def parse(self, body: bytes) -> InboundEvent:
        data = json_body(body)
        if not isinstance(data, dict) or data.get("object") != "event":
            raise MalformedEvent("body is not a Stripe event object")
        event_id, kind, created = data.get("id"), data.get("type"), data.get("created")
        obj = (data.get("data") or {}).get("object") if isinstance(data.get("data"), dict) else None
        if not isinstance(event_id, str) or not event_id:
            raise MalformedEvent("id: missing")
        if not isinstance(kind, str) or not kind:
            raise MalformedEvent("type: missing")
        if isinstance(created, bool) or not isinstance(created, int):
            raise MalformedEvent("created: must be a Unix timestamp")
        if not isinstance(obj, dict):
            raise MalformedEvent("data.object: missing")
        return InboundEvent(event_id, kind, from_unix(created), data, raw=body)

    def interpret(self, event: InboundEvent) -> Sequence[Change]:
        obj = _object(event)
        if event.type.startswith(SUBSCRIPTION_EVENT_PREFIX) and obj.get("object") in (
            "subscription",
            None,
        ):
            if event.created_at is None:
                raise EventError("event has no created time")
            return [snapshot(obj, event.created_at, STATUS_OF_EVENT.get(event.type))]
        if event.type == "checkout.session.completed":
            return _checkout_link(obj)
        return []


def _object(event: InboundEvent) -> dict[str, Any]:
    obj = event.payload.get("data", {}).get("object")
    if not isinstance(obj, dict):
        raise EventError("data.object is missing")
    return obj


def _checkout_link(session: dict[str, Any]) -> list[Change]:
    # Only a checkout in `subscription` mode creates a subscription; its id is the test.
    subscription_id = ref_id(session.get("subscription"))
    if subscription_id is None:
        return []  # a one-off payment or setup: nothing to link
    metadata = session.get("metadata") or {}
    org_id = org_id_from(session.get("client_reference_id"), "client_reference_id") or (
        org_id_from(metadata.get("org_id"), "metadata.org_id")
    )
    if org_id is None:
        raise EventError("checkout session names no org (client_reference_id, metadata.org_id)")
    return [CheckoutLink(org_id, ref_id(session.get("customer")), subscription_id)]


def _period(sub: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    # API versions before 2025-03-31 keep the period on the subscription, later ones on
    # each item; a subscription's items share one billing cycle, so the first one speaks.
    if "current_period_end" in sub:
        return from_unix(sub.get("current_period_start")), from_unix(sub["current_period_end"])
    for item in (sub.get("items") or {}).get("data") or []:
        if isinstance(item, dict) and item.get("current_period_end") is not None:
            return from_unix(item.get("current_period_start")), from_unix(
                item["current_period_end"]
            )
    return None, None


def snapshot(
    sub: dict[str, Any], as_of: datetime, status: str | None = None
) -> SubscriptionSnapshot:
    """The subscription object as of `as_of`; `status`, if given, overrides its own."""
    subscription_id = ref_id(sub)
    if subscription_id is None:
        raise EventError("subscription has no id")
    status = status or sub.get("status")
    if status not in SUBSCRIPTION_STATUSES:
        raise EventError(f"unknown subscription status {status!r}")
    prices = tuple(
        price_id
        for item in (sub.get("items") or {}).get("data") or []
        if isinstance(item, dict) and (price_id := ref_id(item.get("price")))
    )
    start, end = _period(sub)
    metadata = sub.get("metadata") or {}
    return SubscriptionSnapshot(
        subscription_id=subscription_id,
        customer_id=ref_id(sub.get("customer")),
        org_id=org_id_from(metadata.get("org_id"), "metadata.org_id"),
        price_ids=prices,
        status=status,
        current_period_start=start,
        current_period_end=end,
        cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
        canceled_at=from_unix(sub.get("canceled_at")),
        as_of=as_of,
    )
