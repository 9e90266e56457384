"""JSON logs with a request id; no password, token or key ever appears in them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from fastapi.testclient import TestClient

from pressroom.observability import REDACTED, configure_logging, json_formatter
from tests.http import PASSWORD, bearer, create_api_key, create_org, invite, login, signup


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, rendered exactly as production renders it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


class TestNoSecretsInLogs:
    def test_signup_login_refresh_keys_and_invitations_leak_nothing(
        self, client: TestClient, log_output: io.StringIO
    ) -> None:
        email = signup(client)
        client.post("/v1/auth/login", json={"email": email, "password": "wrong-" + PASSWORD})
        tokens = login(client, email)
        headers = bearer(tokens["access_token"])
        refreshed = client.post(
            "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        ).json()
        org_id = create_org(client, headers)
        key = create_api_key(client, headers, org_id, ["org:read"])["key"]
        client.get(f"/v1/orgs/{org_id}", headers=bearer(key))
        client.get(f"/v1/orgs/{org_id}", headers=bearer(key + "tampered"))
        invitation = invite(client, headers, org_id, "guest@example.com")["token"]
        client.post("/v1/invitations/accept", json={"token": invitation}, headers=headers)
        text = log_output.getvalue()
        assert len(_lines(log_output)) >= 9
        secrets = {
            "password": PASSWORD,
            "access token": tokens["access_token"],
            "refresh token": tokens["refresh_token"],
            "refreshed access token": refreshed["access_token"],
            "refreshed refresh token": refreshed["refresh_token"],
            "api key": key,
            "invitation token": invitation,
        }
        assert [name for name, value in secrets.items() if value in text] == []
        # Nor the tail of a secret (e.g. a key logged without its prefix).
        assert key[8:] not in text

    def test_secret_named_fields_are_redacted_even_if_logged(
        self, client: TestClient, log_output: io.StringIO
    ) -> None:
        structlog.get_logger("careless").info(
            "oops", password="hunter2hunter2", api_key="prk_abc", refresh_token="prr_x", user="ok"
        )
        line = next(e for e in _lines(log_output) if e["event"] == "oops")
        assert line["password"] == line["api_key"] == line["refresh_token"] == REDACTED
        assert line["user"] == "ok"


class TestAccessLog:
    def test_one_json_line_per_request_with_the_request_id(
        self, client: TestClient, log_output: io.StringIO
    ) -> None:
        response = client.get(
            "/healthz?token=should-not-appear", headers={"X-Request-ID": "abc-123"}
        )
        assert response.headers["x-request-id"] == "abc-123"
        access = [e for e in _lines(log_output) if e.get("logger") == "pressroom.access"]
        assert len(access) == 1
        assert access[0]["request_id"] == "abc-123"
        assert access[0]["path"] == "/healthz"
        assert access[0]["status"] == 200
        assert access[0]["method"] == "GET"
        assert "should-not-appear" not in log_output.getvalue()


class TestRequestId:
    def test_generated_when_absent(self, client: TestClient) -> None:
        first = client.get("/healthz").headers["x-request-id"]
        second = client.get("/healthz").headers["x-request-id"]
        assert len(first) == 32
        assert first != second

    def test_unsafe_id_is_replaced(self, client: TestClient) -> None:
        response = client.get("/healthz", headers={"X-Request-ID": "evil\tid {json}"})
        assert response.headers["x-request-id"] != "evil\tid {json}"

    def test_echoed_on_errors_too(self, client: TestClient) -> None:
        response = client.get("/v1/me", headers={"X-Request-ID": "req-401"})
        assert response.status_code == 401
        assert response.headers["x-request-id"] == "req-401"


class TestHumanLinesOnATerminal:
    def test_the_same_events_render_as_one_readable_line_each_still_redacted(self) -> None:
        configure_logging()  # structlog routed through the standard library, as the app does
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(json_formatter(human=True))
        logger = logging.getLogger("pressroom.test.human")
        logger.addHandler(handler)
        logger.propagate = False
        try:
            structlog.get_logger("pressroom.test.human").info(
                "pressroom ready", api="http://127.0.0.1:8000", password=PASSWORD
            )
            logging.getLogger("pressroom.test.human").warning("plain %s line", "stdlib")
        finally:
            logger.removeHandler(handler)
            logger.propagate = True
        lines = stream.getvalue().splitlines()
        assert len(lines) == 2
        assert "pressroom ready" in lines[0]
        assert "http://127.0.0.1:8000" in lines[0]
        assert PASSWORD not in lines[0]
        assert REDACTED in lines[0]
        assert "plain stdlib line" in lines[1]
        assert not any(line.lstrip().startswith("{") for line in lines)
