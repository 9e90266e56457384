"""The dashboard's billing routes over HTTP: who may see and change billing, and the
provider URL coming back from a (fake, local) Stripe."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.billing.fake_stripe import FakeStripe
from tests.http import add_member, create_org, make_client, new_user


@pytest.fixture
def billing_client(database_url: str, stripe_api: FakeStripe) -> Iterator[TestClient]:
    client, engine = make_client(
        database_url, stripe_api_key="sk_test_fake", stripe_api_base=stripe_api.url
    )
    yield client
    engine.dispose()


class TestSubscriptionView:
    def test_a_new_org_is_on_free(self, billing_client: TestClient) -> None:
        _, owner = new_user(billing_client, "owner")
        org_id = create_org(billing_client, owner)
        view = billing_client.get(f"/v1/orgs/{org_id}/subscription", headers=owner).json()
        assert (view["plan"]["name"], view["status"], view["has_access"]) == ("free", None, False)


class TestCheckout:
    def test_owner_gets_the_providers_checkout_url(
        self, billing_client: TestClient, stripe_api: FakeStripe
    ) -> None:
        _, owner = new_user(billing_client, "owner")
        org_id = create_org(billing_client, owner)
        response = billing_client.post(
            f"/v1/orgs/{org_id}/billing/checkout",
            json={"plan": "pro", "success_url": "https://app/ok", "cancel_url": "https://app/no"},
            headers=owner,
        )
        assert response.status_code == 200, response.text
        assert response.json()["url"].startswith("https://checkout.stripe.com/")
        (sent,) = stripe_api.requests
        assert sent.form["client_reference_id"] == [org_id]
        assert sent.form["line_items[0][price]"] == ["price_pro_monthly"]

    def test_a_member_may_not_change_billing(
        self, billing_client: TestClient, stripe_api: FakeStripe
    ) -> None:
        _, owner = new_user(billing_client, "owner")
        org_id = create_org(billing_client, owner)
        _, member, _ = add_member(billing_client, owner, org_id, "member")
        response = billing_client.post(
            f"/v1/orgs/{org_id}/billing/checkout",
            json={"plan": "pro", "success_url": "https://a/ok", "cancel_url": "https://a/no"},
            headers=member,
        )
        assert response.status_code == 403
        assert stripe_api.requests == []

    def test_unknown_plan_names_the_field(self, billing_client: TestClient) -> None:
        _, owner = new_user(billing_client, "owner")
        org_id = create_org(billing_client, owner)
        response = billing_client.post(
            f"/v1/orgs/{org_id}/billing/checkout",
            json={"plan": "gold", "success_url": "https://a/ok", "cancel_url": "https://a/no"},
            headers=owner,
        )
        assert response.status_code == 422
        assert response.json()["detail"].startswith("plan")


class TestPortal:
    def test_no_billing_account_yet_is_not_found(self, billing_client: TestClient) -> None:
        _, owner = new_user(billing_client, "owner")
        org_id = create_org(billing_client, owner)
        response = billing_client.post(
            f"/v1/orgs/{org_id}/billing/portal", json={"return_url": "https://a"}, headers=owner
        )
        assert response.status_code == 404
