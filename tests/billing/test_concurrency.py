"""The same events delivered from many threads at once, through a live server."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pressroom.billing.models import BillingEvent, Subscription
from tests.billing import lifecycle
from tests.billing.conftest import post_stripe, subscription_row

THREADS = 16
COPIES = 3


class TestConcurrentDeliveries:
    @pytest.mark.parametrize("org_in_metadata", [True, False])
    def test_one_row_per_event_and_the_expected_final_state(
        self,
        live_url: str,
        engine: Engine,
        make_org: Callable[[], uuid.UUID],
        org_in_metadata: bool,
    ) -> None:
        tag = uuid.uuid4().hex[:16]
        life = lifecycle.build(
            make_org(), 1_750_000_000, steps=7, org_in_metadata=org_in_metadata, tag=tag
        )
        deliveries = [evt for evt in life.events for _ in range(COPIES)]
        random.Random(tag).shuffle(deliveries)
        start = threading.Barrier(THREADS)
        local = threading.local()

        def deliver(evt: dict) -> int:
            if not hasattr(local, "client"):
                local.client = httpx.Client(base_url=live_url, timeout=30)
                start.wait(timeout=30)  # every thread fires its first delivery at the same moment
            return post_stripe(local.client, evt).status_code

        with ThreadPoolExecutor(THREADS) as pool:
            statuses = list(pool.map(deliver, deliveries, chunksize=1))
        assert set(statuses) == {200}

        with Session(engine) as session:
            stored = session.scalar(
                select(func.count()).where(BillingEvent.provider_event_id.like(f"evt_{tag}_%"))
            )
            pending = session.scalars(
                select(BillingEvent.provider_event_id).where(
                    BillingEvent.provider_event_id.like(f"evt_{tag}_%"),
                    BillingEvent.processed_at.is_(None),
                )
            ).all()
            rows = session.scalar(
                select(func.count()).where(Subscription.provider_subscription_id == life.sub_id)
            )
        assert stored == len(life.events)
        assert pending == []
        assert rows == 1
        row = subscription_row(engine, life.sub_id)
        assert row is not None
        assert life.expected.matches(row) == {}
