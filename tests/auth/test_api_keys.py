"""Organization API keys: shown once, stored hashed, scoped, revocable, own org only."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from pressroom.api_keys.service import authenticate_api_key
from pressroom.db.session import make_engine
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.db.url import to_sqlalchemy_url
from tests.http import bearer, create_api_key, create_org, new_user


class TestCreation:
    def test_secret_is_shown_once_and_stored_as_a_hash(
        self, client: TestClient, database_url: str
    ) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        created = create_api_key(client, owner, org_id)
        secret = created["key"]
        assert secret.startswith("prk_")
        assert len(secret) > 40
        assert secret.startswith(created["prefix"])
        listed = client.get(f"/v1/orgs/{org_id}/api-keys", headers=owner).json()["items"]
        assert [k["prefix"] for k in listed] == [created["prefix"]]
        assert secret not in str(listed)
        engine = create_engine(to_sqlalchemy_url(database_url))
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT secret_hash FROM api_keys")).scalar_one()
        engine.dispose()
        assert stored == hashlib.sha256(secret.encode()).hexdigest()

    def test_unknown_scope_is_refused(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        response = client.post(
            f"/v1/orgs/{org_id}/api-keys",
            json={"name": "x", "scopes": ["members:manage"]},
            headers=owner,
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"].startswith("scopes")

    def test_expiry_in_the_past_is_refused(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        response = client.post(
            f"/v1/orgs/{org_id}/api-keys",
            json={"name": "x", "scopes": ["jobs:read"], "expires_at": "2001-01-01T00:00:00Z"},
            headers=owner,
        )
        assert response.status_code == 422


class TestUse:
    def test_key_reads_its_own_org_and_records_its_use(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner, "Keyed")
        key = create_api_key(client, owner, org_id, ["org:read"])
        response = client.get(f"/v1/orgs/{org_id}", headers=bearer(key["key"]))
        assert response.status_code == 200
        assert response.json()["name"] == "Keyed"
        assert response.json()["role"] is None
        listed = client.get(f"/v1/orgs/{org_id}/api-keys", headers=owner).json()["items"]
        assert listed[0]["last_used_at"] is not None
        orgs = client.get("/v1/orgs", headers=bearer(key["key"])).json()["items"]
        assert [o["id"] for o in orgs] == [org_id]

    def test_key_without_the_scope_is_forbidden_in_its_own_org(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        key = create_api_key(client, owner, org_id, ["jobs:read"])
        response = client.get(f"/v1/orgs/{org_id}", headers=bearer(key["key"]))
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"

    def test_key_is_not_a_user(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        key = create_api_key(client, owner, org_id)
        response = client.get("/v1/me", headers=bearer(key["key"]))
        assert response.status_code == 403
        assert response.json()["code"] == "user_required"
        assert (
            client.post("/v1/orgs", json={"name": "x"}, headers=bearer(key["key"])).status_code
            == 403
        )

    def test_key_cannot_manage_keys(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        key = create_api_key(client, owner, org_id, ["org:read", "jobs:read", "jobs:write"])
        response = client.get(f"/v1/orgs/{org_id}/api-keys", headers=bearer(key["key"]))
        assert response.status_code == 403

    def test_unknown_key_is_unauthorized(self, client: TestClient) -> None:
        assert client.get("/v1/orgs", headers=bearer("prk_not-a-key")).status_code == 401


class TestConcurrentUse:
    def test_requests_in_flight_with_one_key_do_not_wait_for_each_other(
        self, client: TestClient, database_url: str
    ) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        secret = create_api_key(client, owner, org_id)["key"]
        engine = make_engine(database_url, pool_size=2)
        try:
            with Session(engine) as first, Session(engine) as second:
                # The first request records the key's use and is still running (row locked).
                assert authenticate_api_key(first, secret) is not None
                # A second one must not queue behind it: it would fail here, not wait.
                second.execute(text("SET LOCAL lock_timeout = '2s'"))
                key = authenticate_api_key(second, secret)
                assert key is not None
                assert str(key.org_id) == org_id
                second.commit()
                first.commit()
            with system_engine(engine, SystemDuty.MAINTENANCE).connect() as conn:
                used = conn.execute(text("SELECT last_used_at FROM api_keys")).scalar_one()
            assert used is not None
        finally:
            engine.dispose()


class TestRevocation:
    def test_revoked_key_stops_working(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        key = create_api_key(client, owner, org_id, ["org:read"])
        revoke = client.delete(f"/v1/orgs/{org_id}/api-keys/{key['id']}", headers=owner)
        assert revoke.status_code == 204
        assert client.get(f"/v1/orgs/{org_id}", headers=bearer(key["key"])).status_code == 401
        listed = client.get(f"/v1/orgs/{org_id}/api-keys", headers=owner).json()["items"]
        assert listed[0]["revoked_at"] is not None

    def test_member_cannot_revoke(self, client: TestClient) -> None:
        from tests.http import add_member

        _, owner = new_user(client)
        org_id = create_org(client, owner)
        key = create_api_key(client, owner, org_id)
        _, member, _ = add_member(client, owner, org_id)
        response = client.delete(f"/v1/orgs/{org_id}/api-keys/{key['id']}", headers=member)
        assert response.status_code == 403


class TestRevocationReachesEveryProcess:
    """No process keeps credentials: a key revoked (or a session ended) through one app is
    refused by another at once, even one that has just accepted it. docs/api.md says so."""

    def test_a_revoked_key_is_refused_by_another_app_at_once(self, database_url: str) -> None:
        from tests.http import make_client

        (a, engine_a), (b, engine_b) = make_client(database_url), make_client(database_url)
        try:
            _, owner = new_user(a)
            org_id = create_org(a, owner)
            key = create_api_key(a, owner, org_id, ["org:read", "jobs:read"])
            paths = [f"/v1/orgs/{org_id}", f"/v1/orgs/{org_id}/jobs"]
            for path in paths:  # b has just accepted the key
                assert b.get(path, headers=bearer(key["key"])).status_code == 200
            revoked = a.delete(f"/v1/orgs/{org_id}/api-keys/{key['id']}", headers=owner)
            assert revoked.status_code == 204
            for path in paths:
                assert b.get(path, headers=bearer(key["key"])).status_code == 401
        finally:
            engine_a.dispose()
            engine_b.dispose()

    def test_a_logout_is_honoured_by_another_app_at_once(self, database_url: str) -> None:
        from tests.http import make_client

        (a, engine_a), (b, engine_b) = make_client(database_url), make_client(database_url)
        try:
            _, user = new_user(a)
            org_id = create_org(a, user)
            assert b.get(f"/v1/orgs/{org_id}/jobs", headers=user).status_code == 200
            assert a.post("/v1/auth/logout", headers=user).status_code == 200
            assert b.get(f"/v1/orgs/{org_id}/jobs", headers=user).status_code == 401
            assert b.get("/v1/orgs", headers=user).status_code == 401
        finally:
            engine_a.dispose()
            engine_b.dispose()
