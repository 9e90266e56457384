"""Creating, listing, reading and renaming organizations."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.http import add_member, create_org, new_user


class TestCreateOrg:
    def test_creator_is_owner_and_plan_is_free(self, client: TestClient) -> None:
        _, owner = new_user(client)
        response = client.post("/v1/orgs", json={"name": "  Acme  "}, headers=owner)
        assert response.status_code == 201
        body = response.json()
        assert body["name"] == "Acme"
        assert body["role"] == "owner"
        assert body["plan"] == "free"
        members = client.get(f"/v1/orgs/{body['id']}/members", headers=owner).json()["items"]
        assert [m["role"] for m in members] == ["owner"]

    def test_blank_name_is_refused_naming_the_field(self, client: TestClient) -> None:
        _, owner = new_user(client)
        response = client.post("/v1/orgs", json={"name": "   "}, headers=owner)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "name"

    def test_needs_authentication(self, client: TestClient) -> None:
        assert client.post("/v1/orgs", json={"name": "x"}).status_code == 401


class TestListOrgs:
    def test_lists_only_my_orgs_with_my_role(self, client: TestClient) -> None:
        _, alice = new_user(client, "alice")
        _, bob = new_user(client, "bob")
        mine = create_org(client, alice, "Alice's")
        create_org(client, bob, "Bob's")
        shared = create_org(client, bob, "Shared")
        _, carol, _ = add_member(client, bob, shared, "admin", "carol")
        listed = client.get("/v1/orgs", headers=alice).json()["items"]
        assert [o["id"] for o in listed] == [mine]
        carols = client.get("/v1/orgs", headers=carol).json()["items"]
        assert [(o["id"], o["role"]) for o in carols] == [(shared, "admin")]

    def test_paginates_with_a_cursor(self, client: TestClient) -> None:
        _, owner = new_user(client)
        ids = [create_org(client, owner, f"Org {i}") for i in range(3)]
        first = client.get("/v1/orgs?limit=2", headers=owner).json()
        assert [o["id"] for o in first["items"]] == ids[:2]
        second = client.get(f"/v1/orgs?limit=2&after={first['next_cursor']}", headers=owner).json()
        assert [o["id"] for o in second["items"]] == ids[2:]
        assert second["next_cursor"] is None

    def test_limit_out_of_range_is_invalid_input(self, client: TestClient) -> None:
        _, owner = new_user(client)
        response = client.get("/v1/orgs?limit=0", headers=owner)
        assert response.status_code == 422
        assert response.json()["errors"][0] == {
            "field": "limit",
            "in": "query",
            "message": response.json()["errors"][0]["message"],
        }


class TestUpdateOrg:
    def test_admin_renames(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner)
        _, admin, _ = add_member(client, owner, org_id, "admin")
        response = client.patch(f"/v1/orgs/{org_id}", json={"name": "Renamed"}, headers=admin)
        assert response.status_code == 200
        assert client.get(f"/v1/orgs/{org_id}", headers=owner).json()["name"] == "Renamed"

    def test_member_may_read_but_not_rename(self, client: TestClient) -> None:
        _, owner = new_user(client)
        org_id = create_org(client, owner, "Fixed")
        _, member, _ = add_member(client, owner, org_id, "member")
        assert client.get(f"/v1/orgs/{org_id}", headers=member).json()["role"] == "member"
        response = client.patch(f"/v1/orgs/{org_id}", json={"name": "Nope"}, headers=member)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert client.get(f"/v1/orgs/{org_id}", headers=owner).json()["name"] == "Fixed"

    def test_unknown_org_is_404(self, client: TestClient) -> None:
        _, owner = new_user(client)
        response = client.get("/v1/orgs/01900000-0000-7000-8000-000000000000", headers=owner)
        assert response.status_code == 404
        assert response.json()["code"] == "org_not_found"

    def test_malformed_org_id_is_invalid_input(self, client: TestClient) -> None:
        _, owner = new_user(client)
        response = client.get("/v1/orgs/not-a-uuid", headers=owner)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "org_id"
