"""Dashboard billing services: subscription view, and checkout / portal sessions created
through the stripe SDK against a local fake Stripe at the HTTP boundary."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pressroom.billing.checkout import (
    PaymentProviderError,
    create_checkout,
    create_portal,
    subscription_view,
)
from pressroom.billing.models import Subscription
from pressroom.config import get_settings
from pressroom.db.tenancy import scope_to_orgs
from pressroom.errors import Conflict, InvalidInput, NotFound
from tests.billing import stripe_events as se
from tests.billing.conftest import system, uid
from tests.billing.fake_stripe import FakeStripe, fake_stripe


@pytest.fixture
def stripe_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    with fake_stripe() as fake:
        monkeypatch.setenv("PRESSROOM_STRIPE_API_KEY", "sk_test_fake")
        monkeypatch.setenv("PRESSROOM_STRIPE_API_BASE", fake.url)
        get_settings.cache_clear()
        yield fake


def _subscribe(
    engine: Engine, org: uuid.UUID, status: str, *, customer: str | None = "cus_known"
) -> None:
    with Session(system(engine)) as session:
        session.add(
            Subscription(
                org_id=org,
                provider="stripe",
                provider_customer_id=customer,
                provider_subscription_id=uid("sub"),
                plan="pro",
                status=status,
                current_period_start=datetime(2026, 1, 1, tzinfo=UTC),
                current_period_end=datetime(2026, 2, 1, tzinfo=UTC),
                state_as_of=datetime.now(UTC),
            )
        )
        session.commit()


class TestCheckout:
    def test_creates_a_subscription_checkout_naming_the_org(
        self, stripe_api: FakeStripe, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org = make_org()
        with Session(engine) as session:
            result = create_checkout(
                session,
                scope_to_orgs(session, [org]),
                "pro",
                success_url="https://app/ok",
                cancel_url="https://app/no",
            )
        assert result.url == "https://checkout.stripe.com/c/pay/cs_test_fake"
        assert result.session_id == "cs_test_fake"
        (req,) = stripe_api.requests
        assert req.path == "/v1/checkout/sessions"
        assert req.headers["Authorization"] == "Bearer sk_test_fake"
        form = {k: v[0] for k, v in req.form.items()}
        assert form["mode"] == "subscription"
        assert form["line_items[0][price]"] == se.PRO_PRICE
        assert form["line_items[0][quantity]"] == "1"
        assert form["client_reference_id"] == str(org)
        assert form["metadata[org_id]"] == str(org)
        assert form["subscription_data[metadata][org_id]"] == str(org)
        assert (form["success_url"], form["cancel_url"]) == ("https://app/ok", "https://app/no")
        assert "customer" not in form

    def test_reuses_the_known_customer(
        self, stripe_api: FakeStripe, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org = make_org()
        _subscribe(engine, org, "canceled", customer="cus_returning")
        with Session(engine) as session:
            create_checkout(
                session, scope_to_orgs(session, [org]), "business", success_url="s", cancel_url="c"
            )
        form = {k: v[0] for k, v in stripe_api.requests[0].form.items()}
        assert form["customer"] == "cus_returning"
        assert form["line_items[0][price]"] == se.BUSINESS_PRICE

    @pytest.mark.parametrize("plan", ["free", "platinum"])
    def test_a_plan_that_cannot_be_bought_is_invalid_input(
        self,
        stripe_api: FakeStripe,
        engine: Engine,
        make_org: Callable[[], uuid.UUID],
        plan: str,
    ) -> None:
        with Session(engine) as session, pytest.raises(InvalidInput, match="plan"):
            create_checkout(session, make_org(), plan, success_url="s", cancel_url="c")
        assert stripe_api.requests == []

    def test_an_org_with_a_live_subscription_goes_to_the_portal_instead(
        self, stripe_api: FakeStripe, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org = make_org()
        _subscribe(engine, org, "active")
        with Session(engine) as session, pytest.raises(Conflict):
            create_checkout(
                session, scope_to_orgs(session, [org]), "business", success_url="s", cancel_url="c"
            )

    def test_a_stripe_rejection_is_a_provider_error(
        self, stripe_api: FakeStripe, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        stripe_api.fail_with = 400
        org = make_org()
        with Session(engine) as session:
            scope = scope_to_orgs(session, [org])
            with pytest.raises(PaymentProviderError, match="No such"):
                create_checkout(session, scope, "pro", success_url="s", cancel_url="c")


class TestPortal:
    def test_portal_session_for_the_orgs_customer(
        self, stripe_api: FakeStripe, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org = make_org()
        _subscribe(engine, org, "active", customer="cus_portal")
        with Session(engine) as session:
            result = create_portal(
                session, scope_to_orgs(session, [org]), return_url="https://app/billing"
            )
        assert result.url == "https://billing.stripe.com/p/session/bps_fake"
        (req,) = stripe_api.requests
        assert req.path == "/v1/billing_portal/sessions"
        assert req.form == {"customer": ["cus_portal"], "return_url": ["https://app/billing"]}

    def test_no_billing_account_is_not_found(
        self, stripe_api: FakeStripe, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org = make_org()
        with Session(engine) as session, pytest.raises(NotFound):
            create_portal(session, scope_to_orgs(session, [org]), return_url="r")
        assert stripe_api.requests == []


class TestSubscriptionView:
    def test_never_subscribed_is_free_without_status(
        self, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org = make_org()
        with Session(engine) as session:
            view = subscription_view(session, scope_to_orgs(session, [org]))
        assert (view.plan.name, view.status, view.has_access) == ("free", None, False)
        assert "full_pack" not in view.plan.allowed_kinds

    def test_active_subscription_shows_plan_limits_and_period(
        self, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org = make_org()
        _subscribe(engine, org, "past_due")
        with Session(engine) as session:
            view = subscription_view(session, scope_to_orgs(session, [org]))
        assert (view.plan.name, view.status, view.has_access) == ("pro", "past_due", True)
        assert view.plan.monthly_quota == 500
        assert view.current_period_end == datetime(2026, 2, 1, tzinfo=UTC)

    def test_unpaid_subscription_shows_its_status_with_free_limits(
        self, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org = make_org()
        _subscribe(engine, org, "unpaid")
        with Session(engine) as session:
            view = subscription_view(session, scope_to_orgs(session, [org]))
        assert (view.plan.name, view.subscribed_plan, view.status) == ("free", "pro", "unpaid")
        assert view.has_access is False
