"""Paddle Billing notifications (shape of Paddle's documented `subscription.*` events)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from pressroom.billing.providers.paddle import sign

PADDLE_PRO_PRICE = "pri_pressroom_pro"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


def subscription_event(
    event_id: str,
    kind: str,
    *,
    sub_id: str,
    status: str,
    occurred: float,
    org_id: str | None,
    customer: str = "ctm_01hv8wt8nffez4p2t6typn4a5j",
    cancel_scheduled: bool = False,
    canceled_at: float | None = None,
    period: tuple[float, float] = (1_700_000_000, 1_702_592_000),
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": kind,
        "occurred_at": iso(occurred),
        "notification_id": "ntf_" + event_id.removeprefix("evt_"),
        "data": {
            "id": sub_id,
            "status": status,
            "customer_id": customer,
            "address_id": "add_01hv8x1jq1kk4sq7n2xmnh9yz1",
            "business_id": None,
            "currency_code": "USD",
            "created_at": iso(period[0]),
            "updated_at": iso(occurred),
            "started_at": iso(period[0]),
            "first_billed_at": iso(period[0]),
            "next_billed_at": None if status == "canceled" else iso(period[1]),
            "paused_at": iso(occurred) if status == "paused" else None,
            "canceled_at": iso(canceled_at) if canceled_at else None,
            "collection_mode": "automatic",
            "billing_cycle": {"interval": "month", "frequency": 1},
            "current_billing_period": {"starts_at": iso(period[0]), "ends_at": iso(period[1])},
            "scheduled_change": (
                {"action": "cancel", "effective_at": iso(period[1]), "resume_at": None}
                if cancel_scheduled
                else None
            ),
            "items": [
                {
                    "status": "active",
                    "quantity": 1,
                    "recurring": True,
                    "price": {
                        "id": PADDLE_PRO_PRICE,
                        "product_id": "pro_01gsz4t5hdjse780zja8vvr7jg",
                    },
                }
            ],
            "custom_data": {"org_id": org_id} if org_id else None,
        },
    }


def body_of(evt: dict[str, Any]) -> bytes:
    return json.dumps(evt, separators=(",", ":")).encode()


def signed_headers(
    body: bytes, secret: str, timestamp: int | None = None, extra_h1: tuple[str, ...] = ()
) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    parts = [f"ts={ts}", *(f"h1={h}" for h in extra_h1), f"h1={sign(body, secret, ts)}"]
    return {"Paddle-Signature": ";".join(parts), "Content-Type": "application/json"}
