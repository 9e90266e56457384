"""Fuzz every operation of the OpenAPI document: no input may make the API answer 5xx.

A logged-in owner of a real org sends the requests, so the fuzzer gets past authentication
and reaches validation and the services; valid org ids are pointed at that org.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import create_engine

from pressroom.app import create_app
from pressroom.db import admin
from tests.http import bearer, create_org, login, make_client, new_user


@dataclass
class FuzzTarget:
    client: TestClient
    email: str
    headers: dict[str, str]
    org_id: str


@pytest.fixture(scope="module")
def fuzz_target(server_url: str, template_database: str) -> Iterator[FuzzTarget]:
    name = f"pressroom_test_fuzz_{uuid.uuid4().hex[:10]}"
    url = admin.create_database(server_url, name, template=template_database)
    # Generous limits: the fuzzer signs up and logs in far more than a person would.
    client, engine = make_client(
        url,
        signup_limit_per_ip=10_000,
        login_limit_per_ip=10_000,
        login_limit_per_account=10_000,
        # Configured webhooks, so their endpoints answer bad signatures with 400.
        stripe_webhook_secret="whsec_fuzz",
        paddle_webhook_secret="pdl_fuzz",
    )
    email, headers = new_user(client, "fuzzer")
    yield FuzzTarget(client, email, headers, create_org(client, headers, "Fuzzed"))
    engine.dispose()
    admin.drop_database(server_url, name)


# Loaded at import (collection needs the operations) from an app whose engine is never
# used: the OpenAPI document does not touch the database. Requests go to the fixture's app.
# (schemathesis.pytest.from_fixture would be the natural fit, but it breaks on pytest 9.)
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(create_engine("postgresql+psycopg://unused@127.0.0.1/unused"))
)


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_causes_a_server_error(case: Any, fuzz_target: FuzzTarget) -> None:
    path_parameters = case.path_parameters or {}
    if _is_uuid(path_parameters.get("org_id")):
        path_parameters["org_id"] = fuzz_target.org_id
    headers = fuzz_target.headers
    if case.path.startswith("/v1/auth/logout") and case.method.upper() == "POST":
        # Logging out ends the session: give each logout a session of its own.
        headers = bearer(login(fuzz_target.client, fuzz_target.email)["access_token"])
    case.call_and_validate(headers=headers, checks=[not_a_server_error], app=fuzz_target.client.app)


# Characters PostgreSQL refuses (NUL) or that trip naive parsers (other C0 controls, DEL),
# sent in every query parameter and in headers, for every operation: hypothesis rarely
# generates them on its own, which is how a NUL in `?kind=` once answered 500.
CONTROL_CHARACTERS = ("\x00", "\x01", "\x08", "\x1b", "\x1f", "\x7f")
HEADERS_TRIED = ("Idempotency-Key", "X-Request-Id", "Authorization")


def _operations() -> list[tuple[str, str, list[str], list[str]]]:
    """(method, path, query parameter names, header names) of every operation."""
    document = schema.raw_schema
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = [*item.get("parameters", []), *operation.get("parameters", [])]
            query = [p["name"] for p in params if p["in"] == "query"]
            headers = [p["name"] for p in params if p["in"] == "header"]
            found.append((method.upper(), path, query, headers))
    return found


def _concrete(path: str, org_id: str) -> str:
    return path.replace("{org_id}", org_id).replace("{", "").replace("}", "")


@pytest.mark.parametrize(("method", "path", "query", "headers"), _operations())
def test_control_characters_in_query_and_headers_never_cause_a_server_error(
    method: str, path: str, query: list[str], headers: list[str], fuzz_target: FuzzTarget
) -> None:
    url = _concrete(path, fuzz_target.org_id)
    if "logout" in path:
        return  # ending the fuzzer's session would lock the other operations out
    for char in CONTROL_CHARACTERS:
        value = f"a{char}b"
        for name in query:
            response = fuzz_target.client.request(
                method, url, params={name: value}, headers=fuzz_target.headers
            )
            assert response.status_code < 500, (method, path, name, repr(char), response.text)
        for name in {*headers, *HEADERS_TRIED}:
            response = fuzz_target.client.request(
                method, url, headers={**fuzz_target.headers, name: value}
            )
            assert response.status_code < 500, (method, path, name, repr(char), response.text)
