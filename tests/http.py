"""An API client on a private test database, and small helpers to drive the API."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import text

from pressroom.app import create_app
from pressroom.config import Settings
from pressroom.db.session import make_engine
from pressroom.db.tenancy import SystemDuty, system_engine

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


def signup(
    client: TestClient, email: str | None = None, password: str = PASSWORD, *, verify: bool = True
) -> str:
    """A new account; verified (with the token its verification e-mail carries) unless
    `verify=False`."""
    email = email or unique_email()
    response = client.post("/v1/auth/signup", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    # Only an in-process TestClient reaches the outbox; a live server's client stays unverified.
    if verify and hasattr(client, "app"):
        token = queued_mail(client, email, "verify_email")["token"]
        verified = client.post("/v1/auth/verify-email", json={"token": token})
        assert verified.status_code == 200, verified.text
    return email


def queued_mail(client: TestClient, to: str, template: str) -> dict[str, Any]:
    """The context of the newest e-mail of `template` waiting in the outbox for `to`."""
    engine = system_engine(client.app.state.engine, SystemDuty.MAINTENANCE)  # type: ignore[attr-defined]
    with engine.connect() as conn:
        context = conn.execute(
            text(
                "SELECT payload -> 'context' FROM outbox_messages WHERE channel = 'email'"
                " AND payload ->> 'to' = :to AND payload ->> 'template' = :template"
                " ORDER BY created_at DESC, id DESC LIMIT 1"
            ),
            {"to": to.lower(), "template": template},
        ).scalar()
    assert context is not None, f"no {template} e-mail queued for {to}"
    found: dict[str, Any] = context
    return found


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


@contextmanager
def running(app: Any, port: int | None = None) -> Iterator[str]:
    """Serve `app` with Uvicorn on `port` (default: a free loopback port); yields its base
    URL. Pass a port chosen beforehand when the app must know its own URL (public_url)."""
    if port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
