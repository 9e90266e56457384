"""An API client on a private test database, and small helpers to drive the API."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pressroom.app import create_app
from pressroom.config import Settings
from pressroom.db.session import make_engine

PASSWORD = "correct horse battery staple"


def make_client(database_url: str, **settings: Any) -> tuple[TestClient, Any]:
    engine = make_engine(database_url, pool_size=3)
    app = create_app(engine, Settings(**settings))
    return TestClient(app), engine


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    test_client, engine = make_client(database_url)
    yield test_client
    engine.dispose()


def unique_email(name: str = "user") -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.com"


def signup(client: TestClient, email: str | None = None, password: str = PASSWORD) -> str:
    email = email or unique_email()
    response = client.post("/v1/auth/signup", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    return email


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_user(client: TestClient, name: str = "user") -> tuple[str, dict[str, str]]:
    """A signed-up, logged-in user: (email, auth headers)."""
    email = signup(client, unique_email(name))
    return email, bearer(login(client, email)["access_token"])


def create_org(client: TestClient, headers: dict[str, str], name: str = "Acme") -> str:
    response = client.post("/v1/orgs", json={"name": name}, headers=headers)
    assert response.status_code == 201, response.text
    org_id: str = response.json()["id"]
    return org_id


def invite(
    client: TestClient, headers: dict[str, str], org_id: str, email: str, role: str = "member"
) -> dict[str, Any]:
    response = client.post(
        f"/v1/orgs/{org_id}/invitations", json={"email": email, "role": role}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def add_member(
    client: TestClient,
    owner_headers: dict[str, str],
    org_id: str,
    role: str = "member",
    name: str = "member",
) -> tuple[str, dict[str, str], str]:
    """A new user who joined `org_id` by invitation: (email, headers, user id)."""
    email, headers = new_user(client, name)
    token = invite(client, owner_headers, org_id, email, role)["token"]
    response = client.post("/v1/invitations/accept", json={"token": token}, headers=headers)
    assert response.status_code == 200, response.text
    return email, headers, response.json()["user_id"]


def create_api_key(
    client: TestClient,
    headers: dict[str, str],
    org_id: str,
    scopes: list[str] | None = None,
) -> dict[str, Any]:
    response = client.post(
        f"/v1/orgs/{org_id}/api-keys",
        json={"name": "ci", "scopes": scopes or ["jobs:read", "jobs:write"]},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
