"""One pagination convention for every list (docs/api.md, Pagination): `?limit=` 1-100
and `?after=<next_cursor>`, answered with `{items, next_cursor}`."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.http import create_org, new_user


def _list_operations(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for path, item in doc["paths"].items():
        op = item.get("get")
        if not op:
            continue
        schema = op["responses"]["200"]["content"].get("application/json", {}).get("schema", {})
        ref = schema.get("$ref", "")
        if ref:
            props = doc["components"]["schemas"][ref.rsplit("/", 1)[1]].get("properties", {})
            if {"items", "next_cursor"} <= set(props):
                found[path] = op
    return found


def test_every_list_takes_limit_1_to_100_and_after(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    lists = _list_operations(doc)
    assert {"/v1/orgs", "/v1/orgs/{org_id}/jobs", "/v1/orgs/{org_id}/members"} <= set(lists)
    for path, op in lists.items():
        params = {p["name"]: p for p in op["parameters"] if p["in"] == "query"}
        assert "cursor" not in params, path
        limit = params["limit"]["schema"]
        assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 100, 50), path
        assert "after" in params, path


def test_jobs_follow_the_convention(client: TestClient) -> None:
    _, auth = new_user(client)
    org = create_org(client, auth)
    r = client.get(f"/v1/orgs/{org}/jobs", params={"limit": 101}, headers=auth)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "limit"
    # A cursor of another list (an id) is not a job cursor: 422 naming `after`, not page 1.
    r = client.get(f"/v1/orgs/{org}/jobs", params={"after": org}, headers=auth)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "after"


def test_an_id_list_refuses_a_cursor_it_did_not_return(client: TestClient) -> None:
    _, auth = new_user(client)
    r = client.get("/v1/orgs", params={"after": "nope"}, headers=auth)
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "after", "in": "query", "message": "invalid cursor"}]
