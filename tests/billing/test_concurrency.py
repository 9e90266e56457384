"""The same events delivered from many threads at once, through a live server."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pressroom.app import create_app
from pressroom.billing.inbox import Outcome, receive, retry_after_rollback
from pressroom.billing.models import BillingEvent, Subscription
from pressroom.billing.plans import get_catalog
from pressroom.billing.providers.base import EventError, InboundEvent, WebhookProvider
from pressroom.billing.providers.registry import webhook_providers
from pressroom.config import get_settings
from tests.billing import lifecycle
from tests.billing import stripe_events as se
from tests.billing.conftest import post_stripe, serving, subscription_row, system, uid

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

        with Session(system(engine)) as session:
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


class TestCheckoutAroundAFailedEvent:
    """An event about a subscription nobody has linked yet fails and rolls back, releasing
    the subscription's lock, and its second transaction runs later. The checkout linking
    the subscription may commit in that gap (the interleaving the 16-thread test above hit
    by chance) or during the second transaction. Either way the event must end up applied,
    not kept waiting for a redelivery that Stripe, having got a 200, never sends."""

    def _events(self, org: uuid.UUID) -> tuple[InboundEvent, InboundEvent]:
        sub, cus = uid("sub"), uid("cus")
        update = se.event(
            uid("evt"),
            "customer.subscription.updated",
            se.subscription(sub, customer=cus, status="past_due"),
            1_750_000_100,
        )
        checkout = se.event(
            uid("evt"),
            "checkout.session.completed",
            se.checkout_session(org_id=str(org), customer=cus, sub_id=sub),
            1_750_000_000,
        )
        return self.stripe.parse(se.body_of(update)), self.stripe.parse(se.body_of(checkout))

    @property
    def stripe(self) -> WebhookProvider:
        return webhook_providers(get_settings())["stripe"]

    def _fail_first(self, engine: Engine, update: InboundEvent) -> None:
        with Session(system(engine)) as session, pytest.raises(EventError):
            receive(session, self.stripe, update, get_catalog())  # rolled back on exit

    def _checkout(self, engine: Engine, checkout: InboundEvent) -> Outcome:
        with Session(system(engine)) as session, session.begin():
            return receive(session, self.stripe, checkout, get_catalog())

    def _assert_applied(self, engine: Engine, update: InboundEvent, org: uuid.UUID) -> None:
        sub = self.stripe.subscription_ref.of(update)
        assert sub is not None
        row = subscription_row(engine, sub)
        assert row is not None
        assert (row.org_id, row.status) == (org, "past_due")
        with Session(system(engine)) as session:
            kept = session.scalars(
                select(BillingEvent).where(
                    BillingEvent.provider_event_id == update.provider_event_id
                )
            ).one()
        assert (kept.processed_at is not None, kept.error) == (True, None)

    def test_checkout_committed_in_the_gap(
        self, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org = make_org()
        update, checkout = self._events(org)
        self._fail_first(engine, update)
        assert self._checkout(engine, checkout) is Outcome.PROCESSED  # nothing waiting yet
        with Session(system(engine)) as session, session.begin():
            outcome = retry_after_rollback(session, self.stripe, update, get_catalog())
        assert outcome is Outcome.PROCESSED
        self._assert_applied(engine, update, org)

    def test_checkout_during_the_second_transaction_waits_and_applies_it(
        self, engine: Engine, database_url: str, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org = make_org()
        update, checkout = self._events(org)
        self._fail_first(engine, update)
        with (
            psycopg.connect(database_url, autocommit=True) as observer,
            ThreadPoolExecutor(1) as pool,
            Session(system(engine)) as session,
        ):
            with session.begin():
                # Its retry fails in a savepoint; the lock must outlive that savepoint.
                outcome = retry_after_rollback(session, self.stripe, update, get_catalog())
                linking = pool.submit(self._checkout, engine, checkout)
                # Polled until seen (up to 10 s): how soon the thread gets there varies.
                waited = any(_waiting_on_advisory_locks(observer) == 1 for _ in range(200))
                still_waiting = not linking.done()
            assert linking.result(timeout=30) is Outcome.PROCESSED
        assert outcome is Outcome.FAILED
        assert (waited, still_waiting) == (True, True)
        self._assert_applied(engine, update, org)


class TestWebhookConcurrencyCap:
    BLOCKED = 6

    def test_at_most_the_configured_transactions_run_at_once(
        self, engine: Engine, database_url: str, make_org: Callable[[], uuid.UUID]
    ) -> None:
        # The engine's pool has 4 connections; the cap is lower.
        settings = get_settings().model_copy(update={"webhook_concurrency": 2})
        org = make_org()
        deliveries = [
            se.event(
                uid("evt"),
                "customer.subscription.created",
                se.subscription(uid("sub"), customer=uid("cus"), status="active", org_id=str(org)),
                1_750_000_000,
            )
            for _ in range(self.BLOCKED)
        ]
        with (
            psycopg.connect(database_url, autocommit=True) as blocker,
            serving(create_app(engine, settings)) as url,
            httpx.Client(base_url=url, timeout=60) as client,
            ThreadPoolExecutor(self.BLOCKED) as pool,
        ):
            # Each delivery's transaction waits for its subscription's lock, held here.
            for evt in deliveries:
                key = f"billing:stripe:{evt['data']['object']['id']}"
                blocker.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
            answers = [pool.submit(post_stripe, client, evt) for evt in deliveries]
            waiting = [_waiting_on_advisory_locks(blocker) for _ in range(20)]
            blocker.execute("SELECT pg_advisory_unlock_all()")
            statuses = [answer.result().status_code for answer in answers]

        assert max(waiting) == 2, waiting
        assert statuses == [200] * self.BLOCKED
        assert all(subscription_row(engine, e["data"]["object"]["id"]) for e in deliveries)


def _waiting_on_advisory_locks(conn: psycopg.Connection) -> int:
    conn.execute("SELECT pg_sleep(0.05)")
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = 'pressroom' AND wait_event = 'advisory'"
    ).fetchone()
    assert row is not None
    return int(row[0])
