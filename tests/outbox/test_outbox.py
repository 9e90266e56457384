"""The outbox below the API: fair claims, leases, and the events written at each seam."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, text
from sqlalchemy.orm import sessionmaker

from pressroom.billing import subscriptions as billing
from pressroom.billing.plans import get_catalog
from pressroom.billing.providers.base import SubscriptionSnapshot
from pressroom.db.session import make_engine, unit_of_work
from pressroom.db.tenancy import SystemDuty, scope_to_orgs, system_engine
from pressroom.outbox import queue
from pressroom.outbox.models import Channel
from pressroom.outbox.retry import RetryPolicy
from pressroom.outbox.service import enqueue
from pressroom.usage import service as usage
from pressroom.webhooks.signing import new_secret
from tests.factories import connect, make_org
from tests.outbound import Receiver, running_loop, wait_until


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    e = make_engine(database_url, pool_size=4)
    # The tests play the worker and the operator: across orgs.
    yield system_engine(e, SystemDuty.MAINTENANCE)
    e.dispose()


def make_endpoint(database_url: str, org_id: uuid.UUID, url: str, types: str = "{}") -> str:
    secret = new_secret()
    with connect(database_url) as conn:
        conn.execute(
            "INSERT INTO webhook_endpoints (id, org_id, url, secret, event_types)"
            " VALUES (%s, %s, %s, %s, %s)",
            (uuid.uuid4(), org_id, url, secret, types),
        )
    return secret


def fill(engine: Engine, org_id: uuid.UUID, count: int) -> None:
    with engine.begin() as conn:
        endpoint = conn.execute(
            text("SELECT id FROM webhook_endpoints WHERE org_id = :o"), {"o": org_id}
        ).scalar()
        for n in range(count):
            enqueue(
                conn,
                channel=Channel.WEBHOOK,
                event_type="ping",
                payload={"type": "ping", "data": {"n": n}},
                org_id=org_id,
                endpoint_id=endpoint,
            )


def webhook_rows(engine: Engine, org_id: uuid.UUID) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                text(
                    "SELECT event_id, event_type, payload, status FROM outbox_messages"
                    " WHERE org_id = :o AND channel = 'webhook' ORDER BY created_at, event_id"
                ),
                {"o": org_id},
            )
        ]


class TestFairClaims:
    def test_a_deep_backlog_does_not_starve_another_org(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as conn:
            busy, quiet = make_org(conn, "busy"), make_org(conn, "quiet")
        for org in (busy, quiet):
            make_endpoint(database_url, org, "http://127.0.0.1:9/")
        fill(engine, busy, 50)
        fill(engine, quiet, 1)
        with engine.begin() as conn:
            first = queue.claim(conn, limit=4, lease_seconds=30, per_lane=2)
        assert sorted(d.org_id == quiet for d in first) == [False, False, True]
        with engine.begin() as conn:
            # The busy org has its two in flight: nothing more for it until one finishes.
            assert queue.claim(conn, limit=4, lease_seconds=30, per_lane=2) == []
        with engine.begin() as conn:
            assert queue.mark_delivered(conn, first[0])
            assert not queue.mark_delivered(conn, first[0])  # the lease is spent
            again = queue.claim(conn, limit=4, lease_seconds=30, per_lane=2)
        assert len(again) == (1 if first[0].org_id == busy else 0)

    def test_an_expired_lease_is_rescued_and_the_old_holder_writes_nothing(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as conn:
            org = make_org(conn)
        make_endpoint(database_url, org, "http://127.0.0.1:9/")
        fill(engine, org, 1)
        with engine.begin() as conn:
            (stale,) = queue.claim(conn, limit=1, lease_seconds=0.01, per_lane=1)
        time.sleep(0.05)  # outside the transaction: its now() must be past the lease
        with engine.begin() as conn:
            assert queue.rescue_expired(conn) == 1
            (fresh,) = queue.claim(conn, limit=1, lease_seconds=30, per_lane=1)
        assert fresh.id == stale.id
        assert fresh.attempts == 2
        with engine.begin() as conn:
            assert queue.mark_failed(conn, stale, "late", 1.0) is None
            assert queue.mark_delivered(conn, fresh)


class TestRetryPolicy:
    def test_backoff_grows_with_jitter_and_stops_at_the_window(self) -> None:
        policy = RetryPolicy(base_seconds=10, max_delay_seconds=3600, window_seconds=86400)
        delays = [policy.delay(n) for n in range(1, 12)]
        for n, d in enumerate(delays, start=1):
            ceiling = min(3600, 10 * 2 ** (n - 1))
            assert ceiling / 2 <= d <= ceiling
        assert policy.next_try(5, age_seconds=0) is not None
        assert policy.next_try(20, age_seconds=86400 - 1) is None
        # The default schedule spans about a day of attempts.
        total, attempt = 0.0, 0
        while (step := policy.next_try(attempt + 1, total)) is not None:
            total, attempt = total + step, attempt + 1
        assert 20 * 3600 < total <= 86400
        assert attempt > 10


class TestSeams:
    def test_usage_thresholds_once_each_per_month(self, engine: Engine, database_url: str) -> None:
        with connect(database_url) as conn:
            org = make_org(conn)
        make_endpoint(database_url, org, "http://127.0.0.1:9/", "{usage.threshold}")
        factory = sessionmaker(bind=engine)
        now = datetime(2026, 12, 1, 12, tzinfo=UTC)
        for _ in range(10):
            with unit_of_work(factory) as session:
                usage.consume(session, scope_to_orgs(session, [org]), limit=10, now=now)
        rows = webhook_rows(engine, org)
        assert [r["payload"]["data"]["threshold_percent"] for r in rows] == [80, 100]  # type: ignore[index]
        assert rows[0]["payload"]["data"]["used"] == 8  # type: ignore[index]
        # Given back and taken again: the same events, not sent twice.
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE usage_counters SET jobs_used = 7 WHERE org_id = :o"), {"o": org}
            )
        for _ in range(3):
            with unit_of_work(factory) as session:
                usage.consume(session, scope_to_orgs(session, [org]), limit=10, now=now)
        assert len(webhook_rows(engine, org)) == 2
        # A new month is a new pair.
        with unit_of_work(factory) as session:
            usage.consume(
                session,
                scope_to_orgs(session, [org]),
                limit=1,
                now=datetime(2027, 1, 2, tzinfo=UTC),
            )
        assert len(webhook_rows(engine, org)) == 4

    def test_a_refused_consumption_announces_nothing(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as conn:
            org = make_org(conn)
        make_endpoint(database_url, org, "http://127.0.0.1:9/")
        factory = sessionmaker(bind=engine)
        with pytest.raises(usage.QuotaExceeded), unit_of_work(factory) as session:
            usage.consume(session, scope_to_orgs(session, [org]), limit=0, now=datetime.now(UTC))
        assert webhook_rows(engine, org) == []

    def test_subscription_changes_are_announced_and_rollbacks_are_not(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as conn:
            org = make_org(conn)
        make_endpoint(database_url, org, "http://127.0.0.1:9/")
        factory = sessionmaker(bind=engine)

        def snapshot(status: str, as_of: int) -> SubscriptionSnapshot:
            return SubscriptionSnapshot(
                subscription_id="sub_outbox",
                customer_id="cus_outbox",
                org_id=org,
                price_ids=(),
                status=status,
                current_period_start=None,
                current_period_end=datetime(2027, 1, 1, tzinfo=UTC),
                cancel_at_period_end=False,
                canceled_at=None,
                as_of=datetime.fromtimestamp(as_of, UTC),
            )

        with unit_of_work(factory) as session:
            assert billing.apply_snapshot(
                session, "stripe", snapshot("active", 1000), get_catalog()
            )
        with unit_of_work(factory) as session:  # older: no change, no event
            assert not billing.apply_snapshot(
                session, "stripe", snapshot("past_due", 999), get_catalog()
            )

        def change_then_fail() -> None:
            with unit_of_work(factory) as session:
                billing.apply_snapshot(session, "stripe", snapshot("past_due", 2000), get_catalog())
                raise RuntimeError("the transaction fails after the change")

        with pytest.raises(RuntimeError):
            change_then_fail()
        rows = webhook_rows(engine, org)
        assert [r["event_type"] for r in rows] == ["subscription.updated"]
        data = rows[0]["payload"]["data"]  # type: ignore[index]
        assert data["status"] == "active"
        assert data["org_id"] == str(org)
        assert data["current_period_end"] == "2027-01-01T00:00:00+00:00"


class TestMetrics:
    def test_deliveries_are_counted_by_outcome_and_depth_is_published(
        self, engine: Engine, database_url: str
    ) -> None:
        receiver = Receiver().start()
        try:
            with connect(database_url) as conn:
                org = make_org(conn)
            receiver.secrets = [make_endpoint(database_url, org, receiver.url)]
            fill(engine, org, 3)

            def delivered() -> float:
                value = REGISTRY.get_sample_value(
                    "pressroom_outbox_deliveries_total",
                    {"channel": "webhook", "outcome": "delivered"},
                )
                return value or 0.0

            before = delivered()
            with running_loop(engine):
                wait_until(lambda: len(receiver.verified()) == 3)
                wait_until(lambda: delivered() == before + 3)
            assert REGISTRY.get_sample_value("pressroom_outbox_depth") is not None
        finally:
            receiver.stop()
