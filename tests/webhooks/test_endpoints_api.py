"""The webhook endpoints API: who may use it, what it stores, what it refuses."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.http import add_member, bearer, create_api_key
from tests.webhooks.conftest import add_endpoint, owner_org


class TestCrud:
    def test_create_shows_the_secret_once_then_never(self, client: TestClient) -> None:
        headers, org = owner_org(client)
        created = add_endpoint(
            client,
            headers,
            org,
            "http://127.0.0.1:9/hook",
            event_types=["job.succeeded", "job.failed", "job.succeeded"],
            description="CI",
        )
        assert created["secret"].startswith("whsec_")
        assert created["event_types"] == ["job.failed", "job.succeeded"]
        assert created["enabled"] is True
        one = client.get(f"/v1/orgs/{org}/webhook-endpoints/{created['id']}", headers=headers)
        assert one.status_code == 200
        assert "secret" not in one.json()
        listed = client.get(f"/v1/orgs/{org}/webhook-endpoints", headers=headers).json()
        assert [e["id"] for e in listed] == [created["id"]]
        assert all("secret" not in e for e in listed)

    def test_patch_and_delete(self, client: TestClient) -> None:
        headers, org = owner_org(client)
        endpoint = add_endpoint(client, headers, org, "http://127.0.0.1:9/hook")
        path = f"/v1/orgs/{org}/webhook-endpoints/{endpoint['id']}"
        patched = client.patch(
            path, json={"enabled": False, "event_types": ["usage.threshold"]}, headers=headers
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["enabled"] is False
        assert patched.json()["event_types"] == ["usage.threshold"]
        assert client.patch(path, json={"url": None}, headers=headers).status_code == 422
        assert client.delete(path, headers=headers).status_code == 204
        assert client.get(path, headers=headers).status_code == 404

    def test_rotation_returns_a_new_secret_and_a_grace_period(self, client: TestClient) -> None:
        headers, org = owner_org(client)
        endpoint = add_endpoint(client, headers, org, "http://127.0.0.1:9/hook")
        path = f"/v1/orgs/{org}/webhook-endpoints/{endpoint['id']}"
        rotated = client.post(f"{path}/rotate-secret", headers=headers)
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["secret"].startswith("whsec_")
        assert rotated.json()["secret"] != endpoint["secret"]
        shown = client.get(path, headers=headers).json()
        assert shown["previous_secret_expires_at"] == rotated.json()["previous_secret_expires_at"]

    def test_unknown_event_type_is_refused(self, client: TestClient) -> None:
        headers, org = owner_org(client)
        response = client.post(
            f"/v1/orgs/{org}/webhook-endpoints",
            json={"url": "http://127.0.0.1:9/x", "event_types": ["job.exploded"]},
            headers=headers,
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"].startswith("event_types")


class TestPermission:
    def test_members_may_not_manage_webhooks(self, client: TestClient) -> None:
        headers, org = owner_org(client)
        _, member, _ = add_member(client, headers, org, "member")
        response = client.get(f"/v1/orgs/{org}/webhook-endpoints", headers=member)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"

    def test_admins_may(self, client: TestClient) -> None:
        headers, org = owner_org(client)
        _, admin, _ = add_member(client, headers, org, "admin")
        add_endpoint(client, admin, org, "http://127.0.0.1:9/hook")

    def test_an_api_key_needs_the_scope(self, client: TestClient) -> None:
        headers, org = owner_org(client)
        with_scope = bearer(create_api_key(client, headers, org, ["webhooks:manage"])["key"])
        without = bearer(create_api_key(client, headers, org, ["jobs:read"])["key"])
        add_endpoint(client, with_scope, org, "http://127.0.0.1:9/hook")
        refused = client.get(f"/v1/orgs/{org}/webhook-endpoints", headers=without)
        assert refused.status_code == 403


BAD_URLS = [
    ("not a url", "not a url"),
    ("ftp", "ftp://example.com/hook"),
    ("no host", "https:///hook"),
    ("credentials", "https://user:pw@example.com/hook"),
    ("10 kB", "https://example.com/" + "a" * 10_000),
]


class TestBadInput:
    def test_answers_422_naming_the_url(self, client: TestClient) -> None:
        headers, org = owner_org(client)
        for case, url in BAD_URLS:
            response = client.post(
                f"/v1/orgs/{org}/webhook-endpoints", json={"url": url}, headers=headers
            )
            assert response.status_code == 422, (case, response.text)
            assert response.json()["errors"][0]["field"] == "url"
        listed = client.get(f"/v1/orgs/{org}/webhook-endpoints", headers=headers).json()
        assert listed == []

    def test_patch_is_checked_too(self, client: TestClient) -> None:
        headers, org = owner_org(client)
        endpoint = add_endpoint(client, headers, org, "http://127.0.0.1:9/hook")
        response = client.patch(
            f"/v1/orgs/{org}/webhook-endpoints/{endpoint['id']}",
            json={"url": "ftp://example.com/"},
            headers=headers,
        )
        assert response.status_code == 422

    def test_a_delivery_cursor_that_is_not_one_answers_422(self, client: TestClient) -> None:
        headers, org = owner_org(client)
        endpoint = add_endpoint(client, headers, org, "http://127.0.0.1:9/hook")
        response = client.get(
            f"/v1/orgs/{org}/webhook-endpoints/{endpoint['id']}/deliveries?after=nope",
            headers=headers,
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "after"


PRODUCTION_REFUSED = [
    "http://example.com/hook",  # not https
    "https://127.0.0.1/hook",
    "https://10.1.2.3/hook",
    "https://192.168.0.10/hook",
    "https://169.254.169.254/latest/meta-data",  # cloud metadata
    "https://[::1]/hook",
    "https://[::ffff:10.0.0.1]/hook",
    "https://localhost/hook",
    "https://metadata.google.internal/",
]


class TestProductionTargets:
    def test_private_targets_are_refused(self, production_client: TestClient) -> None:
        headers, org = owner_org(production_client)
        for url in PRODUCTION_REFUSED:
            response = production_client.post(
                f"/v1/orgs/{org}/webhook-endpoints", json={"url": url}, headers=headers
            )
            assert response.status_code == 422, (url, response.text)
            assert response.json()["errors"][0]["field"] == "url"

    def test_a_public_https_target_is_accepted(self, production_client: TestClient) -> None:
        headers, org = owner_org(production_client)
        # A literal public address: no DNS needed (names that don't resolve are accepted
        # too, and checked again at every attempt).
        add_endpoint(production_client, headers, org, "https://93.184.215.14/hook")
        add_endpoint(production_client, headers, org, "https://hooks.example.invalid/x")

    def test_development_allows_loopback(self, client: TestClient) -> None:
        headers, org = owner_org(client)
        add_endpoint(client, headers, org, "http://127.0.0.1:9/hook")
