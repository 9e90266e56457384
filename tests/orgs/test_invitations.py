"""Invitations: single use, expiring, for one email, accepted by that account."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from pressroom.db.url import to_sqlalchemy_url
from tests.http import create_org, invite, new_user, signup


def _accept(client: TestClient, headers: dict[str, str], token: str) -> int:
    response = client.post("/v1/invitations/accept", json={"token": token}, headers=headers)
    return response.status_code


class TestInvite:
    def test_invitee_accepts_and_becomes_a_member_with_the_role(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        email, invitee = new_user(client, "invitee")
        created = invite(client, owner, org_id, email.upper(), "admin")
        assert created["email"] == email
        assert created["token"].startswith("pri_")
        pending = client.get(f"/v1/orgs/{org_id}/invitations", headers=owner).json()["items"]
        assert [i["id"] for i in pending] == [created["id"]]
        assert "token" not in pending[0]
        response = client.post(
            "/v1/invitations/accept", json={"token": created["token"]}, headers=invitee
        )
        assert response.status_code == 200
        assert response.json()["role"] == "admin"
        assert client.get(f"/v1/orgs/{org_id}", headers=invitee).json()["role"] == "admin"
        assert client.get(f"/v1/orgs/{org_id}/invitations", headers=owner).json()["items"] == []

    def test_token_works_once(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        email, invitee = new_user(client, "invitee")
        token = invite(client, owner, org_id, email)["token"]
        assert _accept(client, invitee, token) == 200
        assert _accept(client, invitee, token) == 404

    def test_someone_else_cannot_use_the_token(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        token = invite(client, owner, org_id, signup(client))["token"]
        _, thief = new_user(client, "thief")
        response = client.post("/v1/invitations/accept", json={"token": token}, headers=thief)
        assert response.status_code == 403
        assert response.json()["code"] == "invitation_email_mismatch"
        assert client.get(f"/v1/orgs/{org_id}", headers=thief).status_code == 404

    def test_revoked_invitation_cannot_be_accepted(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        email, invitee = new_user(client, "invitee")
        created = invite(client, owner, org_id, email)
        revoke = client.delete(f"/v1/orgs/{org_id}/invitations/{created['id']}", headers=owner)
        assert revoke.status_code == 204
        assert _accept(client, invitee, created["token"]) == 404

    def test_reinviting_replaces_the_pending_invitation(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        email, invitee = new_user(client, "invitee")
        first = invite(client, owner, org_id, email)["token"]
        second = invite(client, owner, org_id, email)["token"]
        assert _accept(client, invitee, first) == 404
        assert _accept(client, invitee, second) == 200

    def test_member_cannot_invite_and_admin_cannot_invite_an_owner(
        self, client: TestClient
    ) -> None:
        from tests.http import add_member

        _, owner = new_user(client)
        org_id = create_org(client, owner)
        _, member, _ = add_member(client, owner, org_id, "member", "member")
        _, admin, _ = add_member(client, owner, org_id, "admin", "admin")
        by_member = client.post(
            f"/v1/orgs/{org_id}/invitations", json={"email": signup(client)}, headers=member
        )
        assert by_member.status_code == 403
        owner_by_admin = client.post(
            f"/v1/orgs/{org_id}/invitations",
            json={"email": signup(client), "role": "owner"},
            headers=admin,
        )
        assert owner_by_admin.status_code == 403

    def test_inviting_an_existing_member_is_a_conflict(self, client: TestClient) -> None:
        owner_email, owner = new_user(client)
        org_id = create_org(client, owner)
        response = client.post(
            f"/v1/orgs/{org_id}/invitations", json={"email": owner_email}, headers=owner
        )
        assert response.status_code == 409
        assert response.json()["code"] == "already_member"


@pytest.fixture
def expired_invitation(client: TestClient, database_url: str) -> tuple[dict[str, str], str]:
    _, owner = new_user(client)
    org_id = create_org(client, owner)
    email, invitee = new_user(client, "invitee")
    token = invite(client, owner, org_id, email)["token"]
    engine = create_engine(to_sqlalchemy_url(database_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE invitations SET expires_at = now() - interval '1 second'"))
    engine.dispose()
    return invitee, token


class TestExpiry:
    def test_expired_invitation_cannot_be_accepted(
        self, client: TestClient, expired_invitation: tuple[dict[str, str], str]
    ) -> None:
        invitee, token = expired_invitation
        assert _accept(client, invitee, token) == 404
