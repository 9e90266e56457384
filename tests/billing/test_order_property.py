"""Property: whatever the delivery order, and however many duplicates, the subscription
ends in the one state Stripe's event history implies. Deliveries go through the real
HTTP endpoint, signed, on a real database."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pressroom.billing.models import BillingEvent
from tests.billing import lifecycle
from tests.billing.conftest import post_stripe, subscription_row

T0 = 1_750_000_000


class TestDeliveryOrderDoesNotMatter:
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def test_any_order_with_duplicates_gives_the_expected_state(
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
        dups = data.draw(st.lists(st.integers(0, count - 1), max_size=count), label="dups")
        order = data.draw(st.permutations([*range(count), *dups]), label="order")

        for i in order:
            resp = post_stripe(client, life.events[i])
            assert resp.status_code == 200, resp.text

        row = subscription_row(engine, life.sub_id)
        assert row is not None
        assert row.org_id == life.org_id
        assert row.provider_customer_id == life.customer
        assert life.expected.matches(row) == {}
        with Session(engine) as session:
            stored = session.scalars(
                select(BillingEvent).where(BillingEvent.provider_event_id.like(f"evt_{tag}_%"))
            ).all()
        assert len(stored) == count
        assert [e.provider_event_id for e in stored if e.processed_at is None] == []
        assert [e.error for e in stored if e.error is not None] == []
