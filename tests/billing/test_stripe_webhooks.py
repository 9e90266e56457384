"""Stripe webhooks through the real HTTP endpoint, signed, on a real database."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.billing import stripe_events as se
from tests.billing.conftest import (
    STRIPE_OLD_SECRET,
    STRIPE_SECRET,
    events,
    post_stripe,
    subscription_row,
    system,
    uid,
)

T0 = 1_760_000_000


def _ts(t: int) -> datetime:
    return datetime.fromtimestamp(t, tz=UTC)


def _sub_event(kind: str, sub: str, cus: str, status: str, created: int, **kw: object) -> dict:
    obj = se.subscription(sub, customer=cus, status=status, **kw)  # type: ignore[arg-type]
    return se.event(uid("evt"), kind, obj, created)


def _checkout(org: uuid.UUID, cus: str, sub: str, created: int) -> dict:
    return se.event(
        uid("evt"),
        "checkout.session.completed",
        se.checkout_session(org_id=str(org), customer=cus, sub_id=sub),
        created,
    )


class TestSignature:
    def _evt(self) -> dict:
        return _sub_event("customer.subscription.updated", uid("sub"), uid("cus"), "active", T0)

    def _assert_rejected(self, resp, engine: Engine) -> None:  # type: ignore[no-untyped-def]
        assert resp.status_code == 400, resp.text
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["code"] == "invalid_signature"
        assert events(engine) == []

    def test_missing_signature_is_rejected_and_nothing_stored(
        self, client: TestClient, engine: Engine
    ) -> None:
        body = se.body_of(self._evt())
        self._assert_rejected(client.post("/v1/webhooks/stripe", content=body), engine)

    def test_wrong_secret_is_rejected(self, client: TestClient, engine: Engine) -> None:
        self._assert_rejected(post_stripe(client, self._evt(), secret="whsec_wrong"), engine)

    def test_tampered_body_is_rejected(self, client: TestClient, engine: Engine) -> None:
        body = se.body_of(self._evt())
        headers = se.signed_headers(body, STRIPE_SECRET)
        tampered = body.replace(b'"active"', b'"canceled"')
        resp = client.post("/v1/webhooks/stripe", content=tampered, headers=headers)
        self._assert_rejected(resp, engine)

    def test_timestamp_older_than_tolerance_is_rejected(
        self, client: TestClient, engine: Engine
    ) -> None:
        body = se.body_of(self._evt())
        headers = se.signed_headers(body, STRIPE_SECRET, timestamp=int(time.time()) - 301)
        self._assert_rejected(
            client.post("/v1/webhooks/stripe", content=body, headers=headers), engine
        )

    def test_timestamp_in_the_future_beyond_tolerance_is_rejected(
        self, client: TestClient, engine: Engine
    ) -> None:
        body = se.body_of(self._evt())
        headers = se.signed_headers(body, STRIPE_SECRET, timestamp=int(time.time()) + 3600)
        self._assert_rejected(
            client.post("/v1/webhooks/stripe", content=body, headers=headers), engine
        )

    def test_garbage_header_is_rejected(self, client: TestClient, engine: Engine) -> None:
        body = se.body_of(self._evt())
        resp = client.post(
            "/v1/webhooks/stripe", content=body, headers={"Stripe-Signature": "nonsense"}
        )
        self._assert_rejected(resp, engine)

    def test_previous_secret_is_accepted_during_rotation(
        self, client: TestClient, engine: Engine
    ) -> None:
        resp = post_stripe(client, self._evt(), secret=STRIPE_OLD_SECRET)
        assert resp.status_code == 200, resp.text
        assert len(events(engine)) == 1

    def test_any_of_several_v1_signatures_may_match(
        self, client: TestClient, engine: Engine
    ) -> None:
        body = se.body_of(self._evt())
        good = se.signature(body, STRIPE_SECRET)
        t = good.split(",")[0]
        header = f"{t},v1={'0' * 64},{good.split(',')[1]}"
        resp = client.post(
            "/v1/webhooks/stripe", content=body, headers={"Stripe-Signature": header}
        )
        assert resp.status_code == 200, resp.text


class TestBodyLimit:
    def test_declared_oversize_body_is_413(self, client: TestClient, engine: Engine) -> None:
        body = b"{" + b" " * (256 * 1024) + b"}"
        resp = client.post(
            "/v1/webhooks/stripe", content=body, headers=se.signed_headers(body, STRIPE_SECRET)
        )
        assert resp.status_code == 413
        assert resp.json()["code"] == "payload_too_large"
        assert events(engine) == []

    def test_streamed_body_without_length_is_cut_at_the_limit(
        self, client: TestClient, engine: Engine
    ) -> None:
        def chunks() -> Iterator[bytes]:
            for _ in range(100):
                yield b" " * 8192

        resp = client.post(
            "/v1/webhooks/stripe", content=chunks(), headers={"Stripe-Signature": "t=1,v1=x"}
        )
        assert resp.status_code == 413
        assert events(engine) == []


class TestMalformed:
    def test_signed_non_event_json_is_400_and_not_stored(
        self, client: TestClient, engine: Engine
    ) -> None:
        body = b'{"hello": "world"}'
        resp = client.post(
            "/v1/webhooks/stripe", content=body, headers=se.signed_headers(body, STRIPE_SECRET)
        )
        assert resp.status_code == 400
        assert resp.json()["code"] == "malformed_event"
        assert events(engine) == []


class TestLifecycle:
    def test_checkout_then_subscription_events_give_the_latest_state(
        self, client: TestClient, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org, sub, cus = make_org(), uid("sub"), uid("cus")
        deliveries = [
            _checkout(org, cus, sub, T0),
            _sub_event("customer.subscription.created", sub, cus, "incomplete", T0),
            _sub_event(
                "customer.subscription.updated",
                sub,
                cus,
                "active",
                T0 + 1,
                period=(T0, T0 + 2_592_000),
            ),
        ]
        for evt in deliveries:
            resp = post_stripe(client, evt)
            assert resp.status_code == 200
            assert resp.json()["outcome"] == "processed"
        row = subscription_row(engine, sub)
        assert row is not None
        assert (row.org_id, row.provider, row.provider_customer_id) == (org, "stripe", cus)
        assert (row.status, row.plan) == ("active", "pro")
        assert row.current_period_start == _ts(T0)
        assert row.current_period_end == _ts(T0 + 2_592_000)
        assert row.state_as_of == _ts(T0 + 1)
        assert all(e.processed_at is not None and e.error is None for e in events(engine))

    def test_metadata_org_id_places_a_subscription_without_checkout(
        self, client: TestClient, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org, sub = make_org(), uid("sub")
        evt = _sub_event(
            "customer.subscription.created",
            sub,
            uid("cus"),
            "trialing",
            T0,
            org_id=str(org),
            price=se.BUSINESS_PRICE,
        )
        assert post_stripe(client, evt).json()["outcome"] == "processed"
        row = subscription_row(engine, sub)
        assert row is not None
        assert (row.org_id, row.status, row.plan) == (
            org,
            "trialing",
            "business",
        )

    def test_paused_and_resumed(
        self, client: TestClient, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org, sub, cus = make_org(), uid("sub"), uid("cus")
        post_stripe(client, _checkout(org, cus, sub, T0))
        post_stripe(client, _sub_event("customer.subscription.paused", sub, cus, "paused", T0 + 5))
        row = subscription_row(engine, sub)
        assert row is not None
        assert row.status == "paused"
        post_stripe(client, _sub_event("customer.subscription.resumed", sub, cus, "active", T0 + 9))
        row = subscription_row(engine, sub)
        assert row is not None
        assert row.status == "active"


class TestEventTypeNamesTheStatus:
    """`deleted` and `paused` announce a status; an object that disagrees does not win."""

    def test_deleted_ends_the_subscription_even_if_its_object_says_active(
        self, client: TestClient, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org, sub, cus = make_org(), uid("sub"), uid("cus")
        post_stripe(
            client,
            _sub_event("customer.subscription.created", sub, cus, "active", T0, org_id=str(org)),
        )
        deleted = _sub_event(
            "customer.subscription.deleted", sub, cus, "active", T0 + 10, org_id=str(org)
        )
        assert post_stripe(client, deleted).json()["outcome"] == "processed"
        later = _sub_event(
            "customer.subscription.updated", sub, cus, "active", T0 + 20, org_id=str(org)
        )
        post_stripe(client, later)
        row = subscription_row(engine, sub)
        assert row is not None
        assert row.status == "canceled"

    def test_paused_event_pauses_whatever_its_object_says(
        self, client: TestClient, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org, sub, cus = make_org(), uid("sub"), uid("cus")
        paused = _sub_event("customer.subscription.paused", sub, cus, "active", T0, org_id=str(org))
        post_stripe(client, paused)
        row = subscription_row(engine, sub)
        assert row is not None
        assert row.status == "paused"


class TestCheckoutModes:
    def test_a_checkout_naming_a_subscription_links_it_whatever_its_mode_field(
        self, client: TestClient, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org, sub, cus = make_org(), uid("sub"), uid("cus")
        checkout = se.checkout_session(org_id=str(org), customer=cus, sub_id=sub, mode="payment")
        post_stripe(client, se.event(uid("evt"), "checkout.session.completed", checkout, T0))
        post_stripe(client, _sub_event("customer.subscription.created", sub, cus, "active", T0 + 1))
        row = subscription_row(engine, sub)
        assert row is not None
        assert (row.org_id, row.status) == (org, "active")

    def test_a_one_off_payment_checkout_links_nothing(
        self, client: TestClient, engine: Engine
    ) -> None:
        # Stripe's example session as it is: mode `payment`, no subscription, no org.
        evt = se.event(
            uid("evt"), "checkout.session.completed", se.resource("checkout.session"), T0
        )
        resp = post_stripe(client, evt)
        assert resp.json()["outcome"] == "processed"
        (stored,) = events(engine)
        assert stored.processed_at is not None


class TestOrderAndDuplicates:
    def test_replayed_delivery_is_a_no_op(
        self, client: TestClient, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org, sub, cus = make_org(), uid("sub"), uid("cus")
        evt = _sub_event("customer.subscription.created", sub, cus, "active", T0, org_id=str(org))
        assert post_stripe(client, evt).json()["outcome"] == "processed"
        before = subscription_row(engine, sub)
        resp = post_stripe(client, evt)
        assert resp.status_code == 200
        assert resp.json()["outcome"] == "duplicate"
        after = subscription_row(engine, sub)
        assert before is not None
        assert after is not None
        assert after.updated_at == before.updated_at
        stored = events(engine)
        assert len(stored) == 1
        assert stored[0].attempts == 1

    def test_older_update_does_not_overwrite_newer(
        self, client: TestClient, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org, sub, cus = make_org(), uid("sub"), uid("cus")
        newer = _sub_event(
            "customer.subscription.updated", sub, cus, "past_due", T0 + 10, org_id=str(org)
        )
        older = _sub_event(
            "customer.subscription.updated", sub, cus, "active", T0 + 5, org_id=str(org)
        )
        post_stripe(client, newer)
        assert post_stripe(client, older).json()["outcome"] == "processed"
        row = subscription_row(engine, sub)
        assert row is not None
        assert row.status == "past_due"
        assert row.state_as_of == _ts(T0 + 10)

    def test_deleted_subscription_is_not_resurrected(
        self, client: TestClient, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org, sub, cus = make_org(), uid("sub"), uid("cus")
        deleted = _sub_event(
            "customer.subscription.deleted",
            sub,
            cus,
            "canceled",
            T0 + 100,
            org_id=str(org),
            canceled_at=T0 + 100,
        )
        post_stripe(client, deleted)
        for status, t in (("active", T0 + 50), ("past_due", T0 + 200)):
            stale = _sub_event(
                "customer.subscription.updated", sub, cus, status, t, org_id=str(org)
            )
            post_stripe(client, stale)
        row = subscription_row(engine, sub)
        assert row is not None
        assert (row.status, row.canceled_at) == ("canceled", _ts(T0 + 100))


class TestFailuresAreKept:
    def test_event_before_its_checkout_waits_then_applies(
        self, client: TestClient, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org, sub, cus = make_org(), uid("sub"), uid("cus")
        early = _sub_event("customer.subscription.updated", sub, cus, "active", T0 + 1)
        resp = post_stripe(client, early)
        assert resp.status_code == 200
        assert resp.json()["outcome"] == "failed"
        (stored,) = events(engine)
        assert stored.processed_at is None
        assert stored.attempts == 1
        assert "no organization known" in (stored.error or "")
        assert subscription_row(engine, sub) is None

        post_stripe(client, _checkout(org, cus, sub, T0))
        row = subscription_row(engine, sub)
        assert row is not None
        assert (row.org_id, row.status) == (org, "active")
        assert all(e.processed_at is not None and e.error is None for e in events(engine))

    def test_checkout_finds_its_waiting_event_among_many_other_kept_ones(
        self, client: TestClient, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        # Older kept events of other subscriptions, more than a checkout ever scanned
        # before it matched on the subscription in SQL (500, oldest first).
        with system(engine).begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO billing_events (id, provider, provider_event_id, type, payload,"
                    " received_at, attempts, error)"
                    " SELECT gen_random_uuid(), 'stripe', 'evt_other_' || n,"
                    " 'customer.subscription.updated',"
                    " jsonb_build_object('data', jsonb_build_object('object',"
                    "   jsonb_build_object('id', 'sub_other_' || n))),"
                    " now() - interval '1 day', 1, 'no organization known'"
                    " FROM generate_series(1, 600) AS n"
                )
            )
        org, sub, cus = make_org(), uid("sub"), uid("cus")
        early = _sub_event("customer.subscription.updated", sub, cus, "past_due", T0 + 1)
        assert post_stripe(client, early).json()["outcome"] == "failed"

        post_stripe(client, _checkout(org, cus, sub, T0))
        row = subscription_row(engine, sub)
        assert row is not None
        assert (row.org_id, row.status) == (org, "past_due")
        others = [e for e in events(engine) if e.provider_event_id.startswith("evt_other_")]
        assert len(others) == 600
        assert all(e.processed_at is None for e in others)

    def test_redelivery_of_a_failed_event_retries_it(
        self, client: TestClient, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        missing_org = uuid.uuid4()
        sub = uid("sub")
        evt = _sub_event(
            "customer.subscription.created", sub, uid("cus"), "active", T0, org_id=str(missing_org)
        )
        assert post_stripe(client, evt).json()["outcome"] == "failed"
        assert post_stripe(client, evt).json()["outcome"] == "failed"
        (stored,) = events(engine)
        assert stored.attempts == 2
        assert f"organization {missing_org} does not exist" in (stored.error or "")

    def test_unknown_event_types_are_stored_and_acknowledged(
        self, client: TestClient, engine: Engine
    ) -> None:
        evt = se.event(uid("evt"), "customer.created", se.resource("customer"), T0)
        resp = post_stripe(client, evt)
        assert resp.status_code == 200
        assert resp.json()["outcome"] == "processed"
        (stored,) = events(engine)
        assert stored.type == "customer.created"
        assert stored.processed_at is not None


class TestInvoiceEvents:
    def test_invoice_events_are_recorded_without_changing_status(
        self, client: TestClient, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org, sub, cus = make_org(), uid("sub"), uid("cus")
        post_stripe(
            client,
            _sub_event("customer.subscription.updated", sub, cus, "active", T0, org_id=str(org)),
        )
        failed = se.event(
            uid("evt"),
            "invoice.payment_failed",
            se.invoice(uid("in"), customer=cus, sub_id=sub, paid=False),
            T0 + 5,
        )
        paid = se.event(
            uid("evt"),
            "invoice.paid",
            se.invoice(uid("in"), customer=cus, sub_id=sub, paid=True),
            T0 + 9,
        )
        for evt in (failed, paid):
            assert post_stripe(client, evt).json()["outcome"] == "processed"
        row = subscription_row(engine, sub)
        assert row is not None
        assert row.status == "active"
        assert row.state_as_of == _ts(T0)
        assert {e.type for e in events(engine)} >= {"invoice.paid", "invoice.payment_failed"}


class TestSameSecondEvents:
    def test_first_payment_in_the_same_second_as_creation_wins_in_either_order(
        self, client: TestClient, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        # Stripe stamps `created` in whole seconds; incomplete -> active often share one.
        for order in ((0, 1), (1, 0)):
            org, sub, cus = make_org(), uid("sub"), uid("cus")
            pair = [
                _sub_event(
                    "customer.subscription.created", sub, cus, "incomplete", T0, org_id=str(org)
                ),
                _sub_event(
                    "customer.subscription.updated", sub, cus, "active", T0, org_id=str(org)
                ),
            ]
            for i in order:
                post_stripe(client, pair[i])
            row = subscription_row(engine, sub)
            assert row is not None
            assert row.status == "active", order
