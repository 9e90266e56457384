"""Property: whatever the delivery order, however many duplicates, and whatever forged
copies (tampered, stale, wrongly signed) are mixed in, the subscription ends in the one
state Stripe's event history implies. Deliveries go through the real HTTP endpoint,
signed, on a real database."""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pressroom.billing.models import BillingEvent
from tests.billing import lifecycle
from tests.billing import stripe_events as se
from tests.billing.conftest import STRIPE_SECRET, post_stripe, subscription_row, system

T0 = 1_750_000_000
FORGERIES = ("tampered", "stale", "wrong_secret")


def post_forged(client: TestClient, evt: dict[str, Any], forgery: str) -> httpx.Response:
    """A copy of a real event that must be refused: same id, so storing it would collide."""
    body = se.body_of(evt)
    if forgery == "tampered":  # signed as sent by Stripe, then upgraded in transit
        headers = se.signed_headers(body, STRIPE_SECRET)
        forged = copy.deepcopy(evt)
        forged["data"]["object"]["status"] = "active"
        forged["data"]["object"]["cancel_at_period_end"] = False
        body = se.body_of(forged) + b" "
    elif forgery == "stale":  # a captured delivery replayed after the 300 s tolerance
        headers = se.signed_headers(body, STRIPE_SECRET, int(time.time()) - 301)
    else:
        headers = se.signed_headers(body, "whsec_attacker")
    return client.post("/v1/webhooks/stripe", content=body, headers=headers)


class TestDeliveryOrderDoesNotMatter:
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def test_any_order_with_duplicates_and_forgeries_gives_the_expected_state(
        self,
        client: TestClient,
        engine: Engine,
        make_org: Callable[[], uuid.UUID],
        data: st.DataObject,
    ) -> None:
        # Each example uses its own org, subscription and event ids in the shared database.
        tag = uuid.uuid4().hex[:16]
        life = lifecycle.build(
            make_org(),
            T0,
            steps=data.draw(st.integers(1, 7), label="steps"),
            org_in_metadata=data.draw(st.booleans(), label="org_in_metadata"),
            tag=tag,
        )
        count = len(life.events)
        event_index = st.integers(0, count - 1)
        dups = data.draw(st.lists(event_index, max_size=count), label="dups")
        forged = data.draw(
            st.lists(st.tuples(event_index, st.sampled_from(FORGERIES)), max_size=count),
            label="forged",
        )
        deliveries: list[tuple[int, str | None]] = [(i, None) for i in [*range(count), *dups]]
        order = data.draw(st.permutations([*deliveries, *forged]), label="order")

        for i, forgery in order:
            if forgery is None:
                resp = post_stripe(client, life.events[i])
                assert resp.status_code == 200, resp.text
            else:
                resp = post_forged(client, life.events[i], forgery)
                assert resp.status_code == 400, (forgery, resp.text)
                assert resp.json()["code"] == "invalid_signature"

        row = subscription_row(engine, life.sub_id)
        assert row is not None
        assert row.org_id == life.org_id
        assert row.provider_customer_id == life.customer
        assert life.expected.matches(row) == {}
        with Session(system(engine)) as session:
            stored = session.scalars(
                select(BillingEvent).where(BillingEvent.provider_event_id.like(f"evt_{tag}_%"))
            ).all()
        assert len(stored) == count
        assert [e.provider_event_id for e in stored if e.processed_at is None] == []
        assert [e.error for e in stored if e.error is not None] == []
