"""Stripe webhook deliveries built from Stripe's own example objects (fixtures3.json), not
invented shapes: load the object, set ids, times, status and metadata, wrap it in the
`resources.event` envelope, and sign it the way Stripe does."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

# Inside the repository, with its licence notice (tests/fixtures/stripe/README.md).
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stripe" / "fixtures3.json"

PRO_PRICE = "price_pressroom_pro_monthly"
BUSINESS_PRICE = "price_pressroom_business_monthly"


@cache
def _resources() -> dict[str, Any]:
    resources: dict[str, Any] = json.loads(FIXTURES.read_text())["resources"]
    return resources


def resource(name: str) -> dict[str, Any]:
    return copy.deepcopy(_resources()[name])


def subscription(
    sub_id: str,
    *,
    customer: str,
    status: str,
    price: str = PRO_PRICE,
    period: tuple[int, int] | None = None,
    cancel_at_period_end: bool = False,
    canceled_at: int | None = None,
    org_id: str | None = None,
) -> dict[str, Any]:
    sub = resource("subscription")
    sub.update(
        id=sub_id,
        customer=customer,
        status=status,
        cancel_at_period_end=cancel_at_period_end,
        canceled_at=canceled_at,
        cancel_at=None,
        ended_at=canceled_at if status == "canceled" else None,
        metadata={"org_id": org_id} if org_id else {},
    )
    item = sub["items"]["data"][0]
    item["subscription"] = sub_id
    item["price"]["id"] = price
    start, end = period or (1_700_000_000, 1_702_592_000)
    item["current_period_start"], item["current_period_end"] = start, end
    return sub


def checkout_session(
    *, org_id: str | None, customer: str, sub_id: str, mode: str = "subscription"
) -> dict[str, Any]:
    session = resource("checkout.session")
    session.update(
        client_reference_id=org_id,
        customer=customer,
        subscription=sub_id,
        mode=mode,
        status="complete",
        payment_status="paid",
        metadata={},
    )
    return session


def invoice(inv_id: str, *, customer: str, sub_id: str, paid: bool) -> dict[str, Any]:
    inv = resource("invoice")
    inv.update(id=inv_id, customer=customer, status="paid" if paid else "open")
    inv["billing_reason"] = "subscription_cycle"
    inv["parent"] = {
        "type": "subscription_details",
        "quote_details": None,
        "subscription_details": {"metadata": {}, "subscription": sub_id},
    }
    return inv


def event(event_id: str, kind: str, obj: dict[str, Any], created: int) -> dict[str, Any]:
    envelope = resource("event")
    envelope.update(id=event_id, type=kind, created=created, api_version="2025-03-31.basil")
    envelope["data"] = {"object": obj}
    return envelope


def body_of(evt: dict[str, Any]) -> bytes:
    return json.dumps(evt, separators=(",", ":")).encode()


def signature(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """`Stripe-Signature`: t=<unix>,v1=HMAC-SHA256(secret, "<t>.<body>")."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def signed_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    return {
        "Stripe-Signature": signature(body, secret, timestamp),
        "Content-Type": "application/json",
    }
