"""The webhook paths as HTTP: answered ahead of FastAPI's router (billing.provider_events), yet
documented, logged and erroring like every other route."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine

from pressroom.app import create_app
from pressroom.errors import PROBLEM_JSON
from tests.billing import stripe_events as se
from tests.billing.conftest import STRIPE_SECRET, events, post_stripe, uid

WEBHOOK_PATHS = ("/v1/webhooks/stripe", "/v1/webhooks/paddle")


def _delivery(org: uuid.UUID) -> dict:
    obj = se.subscription(uid("sub"), customer=uid("cus"), status="active", org_id=str(org))
    return se.event(uid("evt"), "customer.subscription.created", obj, 1_760_000_000)


class TestDocumented:
    @pytest.mark.parametrize("path", WEBHOOK_PATHS)
    def test_openapi_lists_the_operation_with_its_ack_and_errors(
        self, client: TestClient, path: str
    ) -> None:
        operation = client.get("/openapi.json").json()["paths"][path]["post"]
        assert operation["requestBody"]["required"] is True
        ack = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ack == {"$ref": "#/components/schemas/WebhookAck"}
        assert {"400", "405", "413", "503"} <= operation["responses"].keys()

    def test_the_ack_schema_is_in_the_document(self, client: TestClient) -> None:
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
        assert set(schemas["WebhookAck"]["properties"]) == {"received", "event_id", "outcome"}


class TestMethods:
    @pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
    def test_anything_but_post_is_405_with_allow(
        self, client: TestClient, engine: Engine, method: str
    ) -> None:
        resp = client.request(method, "/v1/webhooks/stripe")
        assert resp.status_code == 405
        assert resp.headers["allow"] == "POST"
        assert resp.headers["content-type"] == PROBLEM_JSON
        assert resp.json()["code"] == "method_not_allowed"
        assert events(engine) == []

    def test_served_under_a_root_path_like_every_route(
        self, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        client = TestClient(create_app(engine), root_path="/api")
        assert client.get("/api/healthz").status_code == 200
        body = se.body_of(_delivery(make_org()))
        resp = client.post(
            "/api/v1/webhooks/stripe", content=body, headers=se.signed_headers(body, STRIPE_SECRET)
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["outcome"] == "processed"

    def test_a_neighbouring_path_is_left_to_the_router(self, client: TestClient) -> None:
        resp = client.post("/v1/webhooks/stripe-test", content=b"{}")
        assert resp.status_code == 404
        assert resp.json()["code"] == "not_found"


class TestLikeEveryRoute:
    def test_request_id_is_echoed_and_one_access_line_logged(
        self,
        client: TestClient,
        make_org: Callable[[], uuid.UUID],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        body = se.body_of(_delivery(make_org()))
        headers = {**se.signed_headers(body, STRIPE_SECRET), "X-Request-ID": "delivery-42"}
        with caplog.at_level(logging.INFO, logger="pressroom.access"):
            resp = client.post("/v1/webhooks/stripe", content=body, headers=headers)
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-request-id"] == "delivery-42"
        lines = [r.msg for r in caplog.records if r.name == "pressroom.access"]
        assert len(lines) == 1
        line = lines[0]
        assert isinstance(line, dict)
        assert (line["path"], line["status"]) == ("/v1/webhooks/stripe", 200)

    def test_oversize_answer_closes_the_connection(self, client: TestClient) -> None:
        body = b"{" + b" " * (256 * 1024) + b"}"
        resp = client.post(
            "/v1/webhooks/stripe", content=body, headers=se.signed_headers(body, STRIPE_SECRET)
        )
        assert resp.status_code == 413
        assert resp.headers["connection"] == "close"
        assert resp.headers["content-type"] == PROBLEM_JSON

    def test_database_down_is_a_503_problem_so_the_provider_redelivers(self) -> None:
        unreachable = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
        client = TestClient(create_app(unreachable), raise_server_exceptions=False)
        resp = post_stripe(client, _delivery(uuid.uuid4()))
        assert resp.status_code == 503
        assert resp.headers["content-type"] == PROBLEM_JSON
        assert resp.json()["code"] == "database_unavailable"
        assert int(resp.headers["Retry-After"]) > 0
