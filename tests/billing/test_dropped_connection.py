"""A connection that dies between checkout and use (the pool has no pre-ping) costs the
webhook one retry, not a failed or lost event."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from pressroom.app import create_app
from pressroom.db.session import make_engine
from tests.billing import stripe_events as se
from tests.billing.conftest import events, post_stripe, subscription_row, uid
from tests.db.backends import terminate_backend


@pytest.fixture
def one_connection_engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url, pool_size=1)
    yield eng
    eng.dispose()


class TestWebhookSurvivesADroppedConnection:
    def test_the_transaction_is_retried_once_and_the_event_applied(
        self,
        one_connection_engine: Engine,
        database_url: str,
        make_org: Callable[[], uuid.UUID],
    ) -> None:
        engine = one_connection_engine
        client = TestClient(create_app(engine))
        org = make_org()
        sub, cus = uid("sub"), uid("cus")
        first = se.event(
            uid("evt"),
            "customer.subscription.created",
            se.subscription(sub, customer=cus, status="trialing", org_id=str(org)),
            1_760_000_000,
        )
        assert post_stripe(client, first).json()["outcome"] == "processed"

        killed: list[int] = []

        def kill_after_checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
            # After the pool's own liveness check has passed: the server drops the
            # connection just before the transaction's first statement.
            if not killed:
                killed.append(dbapi_conn.info.backend_pid)
                terminate_backend(database_url, killed[0])

        event.listen(engine, "checkout", kill_after_checkout)
        update = se.event(
            uid("evt"),
            "customer.subscription.updated",
            se.subscription(sub, customer=cus, status="active", org_id=str(org)),
            1_760_000_100,
        )
        resp = post_stripe(client, update)

        assert killed, "the connection was not dropped"
        assert resp.status_code == 200, resp.text
        assert resp.json()["outcome"] == "processed"
        stored = {e.provider_event_id: e for e in events(engine)}
        assert stored[update["id"]].processed_at is not None
        assert stored[update["id"]].error is None
        row = subscription_row(engine, sub)
        assert row is not None
        assert row.status == "active"
