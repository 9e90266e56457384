"""Paddle Billing webhooks: Paddle-Signature verification and subscription mapping."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.billing import paddle_events as pe
from tests.billing.conftest import PADDLE_SECRET, events, post_paddle, subscription_row, uid

T0 = 1_760_000_000


def _evt(kind: str, sub: str, status: str, occurred: float, org: uuid.UUID | None, **kw: object):  # type: ignore[no-untyped-def]
    return pe.subscription_event(
        uid("evt"),
        kind,
        sub_id=sub,
        status=status,
        occurred=occurred,
        org_id=str(org) if org else None,
        **kw,  # type: ignore[arg-type]
    )


class TestPaddleSignature:
    def _post(self, client: TestClient, headers: dict[str, str], body: bytes):  # type: ignore[no-untyped-def]
        return client.post("/v1/webhooks/paddle", content=body, headers=headers)

    def test_valid_signature_among_several_h1_is_accepted(
        self, client: TestClient, engine: Engine
    ) -> None:
        body = pe.body_of(_evt("subscription.updated", uid("sub"), "active", T0, None))
        headers = pe.signed_headers(body, PADDLE_SECRET, extra_h1=("ab" * 32,))
        assert self._post(client, headers, body).status_code == 200
        assert len(events(engine, "paddle")) == 1

    def test_wrong_secret_is_rejected(self, client: TestClient, engine: Engine) -> None:
        body = pe.body_of(_evt("subscription.updated", uid("sub"), "active", T0, None))
        resp = self._post(client, pe.signed_headers(body, "other"), body)
        assert resp.status_code == 400
        assert resp.json()["code"] == "invalid_signature"
        assert events(engine, "paddle") == []

    def test_stale_timestamp_is_rejected(self, client: TestClient, engine: Engine) -> None:
        body = pe.body_of(_evt("subscription.updated", uid("sub"), "active", T0, None))
        headers = pe.signed_headers(body, PADDLE_SECRET, timestamp=int(time.time()) - 3600)
        assert self._post(client, headers, body).status_code == 400
        assert events(engine, "paddle") == []

    def test_malformed_header_is_rejected(self, client: TestClient, engine: Engine) -> None:
        body = pe.body_of(_evt("subscription.updated", uid("sub"), "active", T0, None))
        resp = self._post(client, {"Paddle-Signature": "h1=deadbeef"}, body)
        assert resp.status_code == 400
        assert events(engine, "paddle") == []


class TestPaddleSubscriptions:
    def test_lifecycle_maps_onto_the_subscription_row(
        self, client: TestClient, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org, sub = make_org(), uid("sub")
        created = _evt("subscription.created", sub, "trialing", T0 + 0.25, org)
        cancel = _evt("subscription.updated", sub, "active", T0 + 20.5, org, cancel_scheduled=True)
        activated = _evt("subscription.activated", sub, "active", T0 + 10, org)
        for evt in (cancel, created, activated, cancel):
            assert post_paddle(client, evt).status_code == 200
        row = subscription_row(engine, sub)
        assert row is not None
        assert (row.org_id, row.provider, row.plan, row.status) == (org, "paddle", "pro", "active")
        assert row.cancel_at_period_end is True
        assert row.state_as_of == datetime.fromtimestamp(T0 + 20.5, tz=UTC)
        assert row.current_period_end == datetime.fromtimestamp(1_702_592_000, tz=UTC)

    def test_canceled_is_final(
        self, client: TestClient, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org, sub = make_org(), uid("sub")
        post_paddle(
            client,
            _evt("subscription.canceled", sub, "canceled", T0 + 50, org, canceled_at=T0 + 50),
        )
        post_paddle(client, _evt("subscription.past_due", sub, "past_due", T0 + 40, org))
        post_paddle(client, _evt("subscription.resumed", sub, "active", T0 + 60, org))
        row = subscription_row(engine, sub)
        assert row is not None
        assert row.status == "canceled"
        assert row.canceled_at == datetime.fromtimestamp(T0 + 50, tz=UTC)

    def test_missing_custom_data_org_is_kept_with_its_error(
        self, client: TestClient, engine: Engine
    ) -> None:
        resp = post_paddle(client, _evt("subscription.created", uid("sub"), "active", T0, None))
        assert resp.json()["outcome"] == "failed"
        (stored,) = events(engine, "paddle")
        assert stored.processed_at is None
        assert "no organization known" in (stored.error or "")

    def test_non_subscription_events_are_stored_and_acknowledged(
        self, client: TestClient, engine: Engine
    ) -> None:
        evt = {
            "event_id": uid("evt"),
            "event_type": "transaction.completed",
            "occurred_at": pe.iso(T0),
            "notification_id": uid("ntf"),
            "data": {"id": uid("txn"), "status": "completed"},
        }
        assert post_paddle(client, evt).json()["outcome"] == "processed"
        (stored,) = events(engine, "paddle")
        assert stored.type == "transaction.completed"
