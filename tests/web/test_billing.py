"""The billing page: owners reach the provider's checkout (a fake, local Stripe); admins
only read; the provider's refusals are shown on the page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.billing.fake_stripe import FakeStripe
from tests.http import make_client
from tests.web.forms import csrf_from, post_form, web_org, web_signup


@pytest.fixture
def owner(database_url: str, stripe_api: FakeStripe) -> Iterator[tuple[TestClient, str]]:
    client, engine = make_client(
        database_url, stripe_api_key="sk_test_fake", stripe_api_base=stripe_api.url
    )
    web_signup(client)
    yield client, web_org(client)
    engine.dispose()


def test_upgrade_goes_to_the_providers_checkout(
    owner: tuple[TestClient, str], stripe_api: FakeStripe
) -> None:
    client, org_id = owner
    page = client.get(f"/orgs/{org_id}/billing")
    assert "Go to checkout" in page.text
    response = post_form(
        client, f"/orgs/{org_id}/billing", f"/orgs/{org_id}/billing/checkout", {"plan": "pro"}
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("https://checkout.stripe.com/")
    sent = stripe_api.requests[-1].form
    assert sent["client_reference_id"] == [org_id]
    assert sent["success_url"][0].endswith(f"/orgs/{org_id}/billing?checkout=done")


def test_a_refusal_is_shown_on_the_page(owner: tuple[TestClient, str]) -> None:
    client, org_id = owner
    no_account = post_form(client, f"/orgs/{org_id}/billing", f"/orgs/{org_id}/billing/portal", {})
    assert no_account.status_code == 404
    assert "no billing account yet" in no_account.text
    unknown = post_form(
        client, f"/orgs/{org_id}/billing", f"/orgs/{org_id}/billing/checkout", {"plan": "gold"}
    )
    assert unknown.status_code == 422
    assert "unknown plan" in unknown.text


def test_an_admin_reads_billing_but_cannot_change_it(
    owner: tuple[TestClient, str], database_url: str, stripe_api: FakeStripe
) -> None:
    client, org_id = owner
    admin, engine = make_client(database_url)
    try:
        email = web_signup(admin)
        invited = post_form(
            client,
            f"/orgs/{org_id}/members",
            f"/orgs/{org_id}/invitations",
            {"email": email, "role": "admin"},
        )
        token = invited.text.split("invitations/accept?token=")[1].split('"')[0]
        post_form(
            admin, f"/invitations/accept?token={token}", "/invitations/accept", {"token": token}
        )
        page = admin.get(f"/orgs/{org_id}/billing")
        assert page.status_code == 200
        assert "Go to checkout" not in page.text
        refused = admin.post(
            f"/orgs/{org_id}/billing/checkout",
            data={"plan": "pro", "csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
        assert refused.status_code == 403
        assert stripe_api.requests == []
    finally:
        engine.dispose()
