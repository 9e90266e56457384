"""No member or API key of org A can read or change anything of org B.

Walks every operation in the OpenAPI document whose path has `{org_id}`, so a route added
later is covered without touching this file; a second check proves every such route
depends on pressroom.orgs.access's tenant scoping (credential_org_access for the API,
org_access through web_org_access for the dashboard).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import text as text_sql

from pressroom.api_keys.scopes import ApiKeyScope
from pressroom.app import create_app
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.jobs import queue
from pressroom.jobs.queue import ArtifactRow, ConcurrencyPolicy, Success
from pressroom.orgs.access import PoolOrgAccess, credential_org_access, org_access
from pressroom.web.core import web_org_access
from tests.http import add_member, bearer, create_api_key, create_org, invite, new_user


def _example(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    """A small valid value for a JSON schema (enough for our request bodies)."""
    if "$ref" in schema:
        return _example(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return _example(options[0], components)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: _example(props[name], components) for name in props}
    if kind == "array":
        return [_example(schema["items"], components)]
    if kind == "integer":
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    if schema.get("format") == "email":
        return "someone@example.com"
    if schema.get("format") == "date-time":
        return "2999-01-01T00:00:00Z"
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    return "Taken over"


def _org_operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in openapi["paths"].items()
        if "{org_id}" in path
        for method, operation in operations.items()
    ]


def _body(operation: dict[str, Any], openapi: dict[str, Any]) -> Any:
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return _example(content["application/json"]["schema"], openapi["components"]["schemas"])


class World:
    """Org A (alice, her API key with every scope) and org B (bob, carol, a key, an invite)."""

    def __init__(self, client: TestClient) -> None:
        _, self.alice = new_user(client, "alice")
        self.org_a = create_org(client, self.alice, "A")
        all_scopes = [s.value for s in ApiKeyScope]
        self.key_a = bearer(create_api_key(client, self.alice, self.org_a, all_scopes)["key"])
        _, self.bob = new_user(client, "bob")
        self.org_b = create_org(client, self.bob, "B")
        _, _, self.carol_id = add_member(client, self.bob, self.org_b, "member", "carol")
        self.invitation_b = invite(client, self.bob, self.org_b, "dave@example.com")["id"]
        self.key_b = create_api_key(client, self.bob, self.org_b)["id"]
        self.job_b, self.artifact_b = self._job_with_artifact(client)
        endpoint = client.post(
            f"/v1/orgs/{self.org_b}/webhook-endpoints",
            json={"url": "http://127.0.0.1:9/hook"},
            headers=self.bob,
        )
        assert endpoint.status_code == 201, endpoint.text
        self.endpoint_b = endpoint.json()["id"]
        # Real ids of B's resources, by path parameter name; unknown names get a random id
        # (the structural test below still proves such a route is tenant-scoped).
        self.ids = {
            "org_id": self.org_b,
            "user_id": self.carol_id,
            "invitation_id": self.invitation_b,
            "key_id": self.key_b,
            "job_id": self.job_b,
            "artifact_id": self.artifact_b,
            "endpoint_id": self.endpoint_b,
        }

    def _job_with_artifact(self, client: TestClient) -> tuple[str, str]:
        text = "Org B's private article about its quarterly plans, which nobody else may read."
        response = client.post(
            f"/v1/orgs/{self.org_b}/jobs",
            json={"kind": "summary", "input": {"text": text}},
            headers=self.bob,
        )
        assert response.status_code == 202, response.text
        app_engine = client.app.state.engine  # type: ignore[attr-defined]
        engine = system_engine(app_engine, SystemDuty.WORKER)
        with engine.begin() as conn:
            (claim,) = queue.claim(
                conn, worker_id="t", limit=1, lease_seconds=30, policy=ConcurrencyPolicy({}, 5)
            )
            queue.complete_many(
                conn, [Success(claim, [ArtifactRow("summary", "text/plain", "B's summary")])]
            )
            artifact = conn.execute(text_sql("SELECT id FROM content_artifacts")).scalar_one()
        return response.json()["id"], str(artifact)

    def url(self, path: str) -> str:
        for name in [p[1:-1] for p in path.split("/") if p.startswith("{")]:
            path = path.replace("{" + name + "}", self.ids.get(name, str(uuid.uuid4())))
        return path

    def snapshot_b(self, client: TestClient) -> dict[str, Any]:
        """Everything of B that bob can see."""
        org = f"/v1/orgs/{self.org_b}"
        return {
            part: client.get(org + part, headers=self.bob).json()
            for part in (
                "",
                "/members",
                "/invitations",
                "/api-keys",
                "/jobs",
                "/usage",
                "/webhook-endpoints",
            )
        }


@pytest.fixture
def world(client: TestClient) -> World:
    return World(client)


@pytest.mark.parametrize("caller", ["member of A", "API key of A"])
class TestCrossTenantWalk:
    def test_every_org_route_answers_404_for_org_b(
        self, client: TestClient, world: World, caller: str
    ) -> None:
        headers = world.alice if caller == "member of A" else world.key_a
        openapi = client.get("/openapi.json").json()
        operations = _org_operations(openapi)
        assert len(operations) >= 10
        before = world.snapshot_b(client)
        answers = {}
        for method, path, operation in operations:
            response = client.request(
                method, world.url(path), json=_body(operation, openapi), headers=headers
            )
            answers[f"{method} {path}"] = (response.status_code, response.json().get("code"))
        assert answers == {name: (404, "org_not_found") for name in answers}
        assert world.snapshot_b(client) == before

    def test_org_b_is_not_listed(self, client: TestClient, world: World, caller: str) -> None:
        headers = world.alice if caller == "member of A" else world.key_a
        listed = client.get("/v1/orgs", headers=headers).json()["items"]
        assert [o["id"] for o in listed] == [world.org_a]


class TestWalkIsNotVacuous:
    def test_the_same_reads_succeed_for_a_member_of_b(
        self, client: TestClient, world: World
    ) -> None:
        openapi = client.get("/openapi.json").json()
        reads = [(m, p) for m, p, _ in _org_operations(openapi) if m == "GET"]
        assert reads
        for method, path in reads:
            response = client.request(method, world.url(path), headers=world.bob)
            assert response.status_code == 200, (path, response.text)

    def test_a_nonexistent_org_looks_the_same_as_a_foreign_one(
        self, client: TestClient, world: World
    ) -> None:
        foreign = client.get(f"/v1/orgs/{world.org_b}", headers=world.alice)
        missing = client.get(f"/v1/orgs/{uuid.uuid4()}", headers=world.alice)
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json() == missing.json()


def _depends_on(dependant: Any, target: Any) -> bool:
    return any(
        dep.call is target or isinstance(dep.call, PoolOrgAccess) or _depends_on(dep, target)
        for dep in dependant.dependencies
    )


class TestEveryOrgRouteIsScoped:
    def test_every_route_with_org_id_depends_on_org_access(self) -> None:
        from sqlalchemy import create_engine

        app = create_app(create_engine("postgresql+psycopg://unused@127.0.0.1/unused"))
        # Included routers are not flattened into app.routes: walk them with their prefixes.
        org_routes = [
            (ctx.path, ctx.original_route)
            for ctx in iter_route_contexts(app.routes)
            if isinstance(ctx.original_route, APIRoute) and "{org_id}" in (ctx.path or "")
        ]
        assert len(org_routes) >= 10
        # The API enters an org through credential_org_access (the credential and the org in
        # one statement), or a PoolOrgAccess on the async pool; the dashboard's pages through
        # web_org_access, which calls org_access.
        gates = (credential_org_access, web_org_access)
        unscoped = [
            path
            for path, route in org_routes
            if not any(_depends_on(route.dependant, gate) for gate in gates)
        ]
        assert unscoped == []

    def test_the_check_notices_an_unscoped_route(self) -> None:
        from fastapi import FastAPI

        app = FastAPI()

        @app.get("/v1/orgs/{org_id}/leaky")
        def leaky(org_id: uuid.UUID) -> dict[str, str]:
            return {"org": str(org_id)}

        route = next(r for r in app.routes if isinstance(r, APIRoute))
        assert not _depends_on(route.dependant, credential_org_access)
        assert not _depends_on(route.dependant, org_access)
