"""Roles: changing them, removing members, leaving, and the last-owner rule."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.http import add_member, create_org, new_user


def _roles(client: TestClient, headers: dict[str, str], org_id: str) -> dict[str, str]:
    members = client.get(f"/v1/orgs/{org_id}/members", headers=headers).json()["items"]
    return {m["user_id"]: m["role"] for m in members}


def _me(client: TestClient, headers: dict[str, str]) -> str:
    user_id: str = client.get("/v1/me", headers=headers).json()["id"]
    return user_id


class TestChangeRole:
    def test_owner_promotes_a_member_to_admin(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        _, _, member_id = add_member(client, owner, org_id)
        response = client.patch(
            f"/v1/orgs/{org_id}/members/{member_id}", json={"role": "admin"}, headers=owner
        )
        assert response.status_code == 200
        assert response.json()["role"] == "admin"
        assert _roles(client, owner, org_id)[member_id] == "admin"

    def test_member_cannot_change_roles(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        _, member, member_id = add_member(client, owner, org_id)
        response = client.patch(
            f"/v1/orgs/{org_id}/members/{member_id}", json={"role": "admin"}, headers=member
        )
        assert response.status_code == 403

    def test_admin_cannot_make_an_owner_or_touch_one(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        _, admin, _ = add_member(client, owner, org_id, "admin", "admin")
        _, _, member_id = add_member(client, owner, org_id)
        promote = client.patch(
            f"/v1/orgs/{org_id}/members/{member_id}", json={"role": "owner"}, headers=admin
        )
        assert promote.status_code == 403
        demote = client.patch(
            f"/v1/orgs/{org_id}/members/{_me(client, owner)}",
            json={"role": "member"},
            headers=admin,
        )
        assert demote.status_code == 403

    def test_invalid_role_is_refused_naming_the_field(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        _, _, member_id = add_member(client, owner, org_id)
        response = client.patch(
            f"/v1/orgs/{org_id}/members/{member_id}", json={"role": "god"}, headers=owner
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "role"

    def test_unknown_member_is_404(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        _, outsider = new_user(client, "outsider")
        response = client.patch(
            f"/v1/orgs/{org_id}/members/{_me(client, outsider)}",
            json={"role": "admin"},
            headers=owner,
        )
        assert response.status_code == 404
        assert response.json()["code"] == "member_not_found"


class TestLastOwner:
    def test_last_owner_cannot_be_demoted(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        response = client.patch(
            f"/v1/orgs/{org_id}/members/{_me(client, owner)}",
            json={"role": "admin"},
            headers=owner,
        )
        assert response.status_code == 409
        assert response.json()["code"] == "last_owner"

    def test_last_owner_cannot_leave(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        response = client.delete(f"/v1/orgs/{org_id}/members/{_me(client, owner)}", headers=owner)
        assert response.status_code == 409
        assert _roles(client, owner, org_id) == {_me(client, owner): "owner"}

    def test_with_a_second_owner_the_first_may_step_down(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        _, _, second_id = add_member(client, owner, org_id, "owner", "second")
        owner_id = _me(client, owner)
        response = client.patch(
            f"/v1/orgs/{org_id}/members/{owner_id}", json={"role": "member"}, headers=owner
        )
        assert response.status_code == 200
        assert _roles(client, owner, org_id) == {owner_id: "member", second_id: "owner"}


class TestRemoveMember:
    def test_admin_removes_a_member_who_then_loses_access(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        _, admin, _ = add_member(client, owner, org_id, "admin", "admin")
        _, member, member_id = add_member(client, owner, org_id)
        response = client.delete(f"/v1/orgs/{org_id}/members/{member_id}", headers=admin)
        assert response.status_code == 204
        assert client.get(f"/v1/orgs/{org_id}", headers=member).status_code == 404

    def test_member_cannot_remove_others_but_can_leave(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        _, member, member_id = add_member(client, owner, org_id)
        removal = client.delete(f"/v1/orgs/{org_id}/members/{_me(client, owner)}", headers=member)
        assert removal.status_code == 403
        leave = client.delete(f"/v1/orgs/{org_id}/members/{member_id}", headers=member)
        assert leave.status_code == 204
        assert member_id not in _roles(client, owner, org_id)

    def test_admin_cannot_remove_an_owner(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        _, admin, _ = add_member(client, owner, org_id, "admin", "admin")
        response = client.delete(f"/v1/orgs/{org_id}/members/{_me(client, owner)}", headers=admin)
        assert response.status_code == 403


class TestConcurrentDemotions:
    def test_two_owners_demoting_each_other_leave_one_owner(self, client: TestClient) -> None:
        from concurrent.futures import ThreadPoolExecutor

        _, first = new_user(client, "first")
        org_id = create_org(client, first)
        _, second, second_id = add_member(client, first, org_id, "owner", "second")
        first_id = _me(client, first)

        def demote(headers: dict[str, str], target: str) -> int:
            return client.patch(
                f"/v1/orgs/{org_id}/members/{target}", json={"role": "member"}, headers=headers
            ).status_code

        with ThreadPoolExecutor(max_workers=2) as pool:
            codes = sorted(
                pool.map(lambda args: demote(*args), [(first, second_id), (second, first_id)])
            )
        # The loser is refused either by the last-owner rule (409) or, if the winner
        # committed before the loser's request began, because it is no longer an owner (403).
        assert codes in ([200, 403], [200, 409])
        assert list(_roles(client, first, org_id).values()).count("owner") == 1
