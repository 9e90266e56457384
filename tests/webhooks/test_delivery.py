"""Deliveries to a real receiver that verifies each one with the Standard Webhooks library."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.jobs import queue
from pressroom.jobs.queue import ArtifactRow, ConcurrencyPolicy, Success
from pressroom.jobs.worker.retry_policy import RetryPolicy
from tests.outbound import Receiver, running_loop, wait_until
from tests.webhooks.conftest import add_endpoint, owner_org

ARTICLE = "A long enough article about the harbour, the boats and the people who sail them."


def _engine(client: TestClient) -> Engine:
    """The app's engine, across orgs (the test plays the worker and reads every org)."""
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return system_engine(engine, SystemDuty.WORKER)


def finish_job(client: TestClient, headers: dict[str, str], org: str, outcome: str) -> str:
    """Submit a job through the API, then record `outcome` as a worker does."""
    response = client.post(
        f"/v1/orgs/{org}/jobs",
        json={"kind": "summary", "input": {"text": ARTICLE}},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    with _engine(client).begin() as conn:
        claims = queue.claim(
            conn, worker_id="t", limit=10, lease_seconds=30, policy=ConcurrencyPolicy({}, 5)
        )
        (claim,) = [c for c in claims if str(c.id) == job_id]
        if outcome == "succeeded":
            success = Success(
                claim, [ArtifactRow("summary", "text/plain", "Boats.")], {"model": "t"}
            )
            assert queue.complete_many(conn, [success]) == {claim.id: "succeeded"}
        elif outcome == "failed":
            assert (
                queue.retry_or_fail(
                    conn, claim, "engine broke", policy=RetryPolicy(), retryable=False
                )
                == "failed"
            )
        else:
            assert queue.cancel(conn, claim)
    return str(job_id)


def deliveries(client: TestClient, headers: dict[str, str], org: str, ep: str) -> list[Any]:
    response = client.get(f"/v1/orgs/{org}/webhook-endpoints/{ep}/deliveries", headers=headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


class TestJobEvents:
    def test_each_outcome_arrives_signed_with_its_payload(
        self, client: TestClient, receiver: Receiver
    ) -> None:
        headers, org = owner_org(client)
        endpoint = add_endpoint(client, headers, org, receiver.url)
        receiver.secrets = [endpoint["secret"]]
        jobs = {o: finish_job(client, headers, org, o) for o in ("succeeded", "failed", "canceled")}
        with running_loop(_engine(client)):
            wait_until(lambda: len(receiver.verified()) == 3)
        assert len(receiver.received) == 3  # every delivery verified
        by_type = {r.payload["type"]: r for r in receiver.received}
        assert set(by_type) == {"job.succeeded", "job.failed", "job.canceled"}
        succeeded = by_type["job.succeeded"].payload
        assert succeeded["version"] == 1
        data = succeeded["data"]
        assert data["job_id"] == jobs["succeeded"]
        assert data["org_id"] == org
        assert data["kind"] == "summary"
        assert data["status"] == "succeeded"
        assert data["usage"] == {"model": "t"}
        (artifact,) = data["artifacts"]
        assert artifact["type"] == "summary"
        assert artifact["url"].endswith(f"/v1/orgs/{org}/artifacts/{artifact['id']}/content")
        assert by_type["job.failed"].payload["data"]["error"] == "engine broke"
        # The header id is the event's id, one per event.
        ids = {r.headers["webhook-id"] for r in receiver.received}
        assert len(ids) == 3
        attempts = deliveries(client, headers, org, endpoint["id"])
        assert {a["status_code"] for a in attempts} == {204}
        assert {a["event_id"] for a in attempts} == ids
        assert {a["delivery_status"] for a in attempts} == {"delivered"}

    def test_an_endpoint_gets_only_its_event_types_and_its_org(
        self, client: TestClient, receiver: Receiver
    ) -> None:
        headers, org = owner_org(client)
        other_headers, other_org = owner_org(client)
        endpoint = add_endpoint(client, headers, org, receiver.url, event_types=["job.failed"])
        receiver.secrets = [endpoint["secret"]]
        finish_job(client, headers, org, "succeeded")
        finish_job(client, other_headers, other_org, "failed")
        failed = finish_job(client, headers, org, "failed")
        with running_loop(_engine(client)):
            wait_until(lambda: receiver.verified())
        assert [r.payload["data"]["job_id"] for r in receiver.received] == [failed]

    def test_a_disabled_endpoint_gets_nothing(self, client: TestClient, receiver: Receiver) -> None:
        headers, org = owner_org(client)
        add_endpoint(client, headers, org, receiver.url, enabled=False)
        finish_job(client, headers, org, "succeeded")
        with _engine(client).connect() as conn:
            webhooks = text("SELECT count(*) FROM outbox_messages WHERE channel = 'webhook'")
            assert conn.execute(webhooks).scalar() == 0


class TestPingAndRotation:
    def test_ping_then_both_secrets_sign_during_the_grace_period(
        self, client: TestClient, receiver: Receiver
    ) -> None:
        headers, org = owner_org(client)
        endpoint = add_endpoint(client, headers, org, receiver.url)
        path = f"/v1/orgs/{org}/webhook-endpoints/{endpoint['id']}"
        old = endpoint["secret"]
        new = client.post(f"{path}/rotate-secret", headers=headers).json()["secret"]
        receiver.secrets = [old, new]
        sent = client.post(f"{path}/test", headers=headers)
        assert sent.status_code == 202, sent.text
        with running_loop(_engine(client)):
            wait_until(lambda: receiver.received)
        (ping,) = receiver.received
        assert ping.verified_by == [old, new]
        assert len(ping.headers["webhook-signature"].split(" ")) == 2
        assert ping.payload["type"] == "ping"
        assert ping.headers["webhook-id"] == sent.json()["event_id"]

    def test_after_the_grace_period_only_the_new_secret_signs(
        self, client: TestClient, receiver: Receiver
    ) -> None:
        headers, org = owner_org(client)
        endpoint = add_endpoint(client, headers, org, receiver.url)
        path = f"/v1/orgs/{org}/webhook-endpoints/{endpoint['id']}"
        new = client.post(f"{path}/rotate-secret", headers=headers).json()["secret"]
        with _engine(client).begin() as conn:
            conn.execute(text("UPDATE webhook_endpoints SET previous_secret_expires_at = now()"))
        receiver.secrets = [endpoint["secret"], new]
        client.post(f"{path}/test", headers=headers)
        with running_loop(_engine(client)):
            wait_until(lambda: receiver.received)
        assert receiver.received[0].verified_by == [new]


class TestFailures:
    def test_a_receiver_down_for_a_while_gets_the_event_when_back(self, client: TestClient) -> None:
        receiver = Receiver()  # not listening yet: connections are refused
        headers, org = owner_org(client)
        endpoint = add_endpoint(client, headers, org, receiver.url)
        receiver.secrets = [endpoint["secret"]]
        job = finish_job(client, headers, org, "succeeded")
        with running_loop(_engine(client)):
            wait_until(lambda: len(deliveries(client, headers, org, endpoint["id"])) >= 2)
            receiver.start()
            try:
                wait_until(lambda: receiver.verified())
            finally:
                receiver.stop()
        assert [r.payload["data"]["job_id"] for r in receiver.received] == [job]
        attempts = deliveries(client, headers, org, endpoint["id"])
        assert attempts[0]["status_code"] == 204  # newest first
        assert all(a["error"].startswith("connection error") for a in attempts[1:])
        assert {a["event_id"] for a in attempts} == {receiver.received[0].headers["webhook-id"]}

    def test_a_black_hole_times_out_and_does_not_hold_up_other_orgs(
        self, client: TestClient, receiver: Receiver
    ) -> None:
        hole = Receiver().start()
        hole.mode = "hang"
        try:
            headers, org = owner_org(client)
            add_endpoint(client, headers, org, hole.url)
            for _ in range(6):
                finish_job(client, headers, org, "failed")
            other_headers, other_org = owner_org(client)
            endpoint = add_endpoint(client, other_headers, other_org, receiver.url)
            receiver.secrets = [endpoint["secret"]]
            finish_job(client, other_headers, other_org, "succeeded")
            settings = {
                "outbox_concurrency": 3,
                "outbox_max_in_flight_per_lane": 2,
                "webhook_timeout_seconds": 1.5,
            }
            with running_loop(_engine(client), **settings):
                wait_until(lambda: receiver.verified(), timeout=5)
                wait_until(lambda: _errors(client, org), timeout=10)
        finally:
            hole.stop()
        assert all(e.startswith("timeout") for e in _errors(client, org))

    def test_redirects_are_not_followed_and_bodies_are_truncated(
        self, client: TestClient, receiver: Receiver
    ) -> None:
        headers, org = owner_org(client)
        endpoint = add_endpoint(client, headers, org, receiver.url)
        path = f"/v1/orgs/{org}/webhook-endpoints/{endpoint['id']}"
        receiver.mode = "redirect"
        client.post(f"{path}/test", headers=headers)
        with running_loop(_engine(client), webhook_response_body_max_bytes=100):
            wait_until(lambda: deliveries(client, headers, org, endpoint["id"]))
            receiver.mode = "big"
            client.post(f"{path}/test", headers=headers)
            wait_until(lambda: len(deliveries(client, headers, org, endpoint["id"])) >= 2)
        attempts = deliveries(client, headers, org, endpoint["id"])
        redirected = [a for a in attempts if a["status_code"] == 302]
        assert redirected
        assert redirected[-1]["error"] == "HTTP 302"  # a failure, to retry; never followed
        big = [a for a in attempts if a["status_code"] == 200]
        assert big
        assert all(len(a["response_body"]) == 100 for a in big)

    def test_dead_after_the_retry_window_then_replayed(
        self, client: TestClient, receiver: Receiver
    ) -> None:
        headers, org = owner_org(client)
        endpoint = add_endpoint(client, headers, org, receiver.url)
        receiver.secrets = [endpoint["secret"]]
        receiver.mode = "fail"
        finish_job(client, headers, org, "failed")
        with running_loop(_engine(client), outbox_retry_window_seconds=1.0):
            wait_until(lambda: _dead(client) == 1)
            attempts = deliveries(client, headers, org, endpoint["id"])
            assert len(attempts) >= 2
            assert all(a["status_code"] == 500 for a in attempts)
            receiver.mode = "ok"
            delivery = attempts[0]["delivery_id"]
            path = f"/v1/orgs/{org}/webhook-endpoints/{endpoint['id']}"
            retried = client.post(f"{path}/deliveries/{delivery}/retry", headers=headers)
            assert retried.status_code == 202, retried.text
            wait_until(lambda: receiver.verified()[-1:] and receiver.received[-1].verified_by)
        ids = {r.headers["webhook-id"] for r in receiver.received}
        assert len(ids) == 1  # the same event every time
        missing = client.post(f"{path}/deliveries/{uuid.uuid4()}/retry", headers=headers)
        assert missing.status_code == 404

    def test_failing_for_five_days_disables_and_mails_the_owners(
        self, client: TestClient, receiver: Receiver
    ) -> None:
        headers, org = owner_org(client)
        endpoint = add_endpoint(client, headers, org, receiver.url)
        receiver.mode = "fail"
        with _engine(client).begin() as conn:
            conn.execute(
                text("UPDATE webhook_endpoints SET failing_since = now() - interval '5 days 1 s'")
            )
        finish_job(client, headers, org, "failed")
        finish_job(client, headers, org, "failed")
        path = f"/v1/orgs/{org}/webhook-endpoints/{endpoint['id']}"
        with running_loop(_engine(client)):
            wait_until(lambda: not client.get(path, headers=headers).json()["enabled"])
            wait_until(lambda: _dead(client) == 2)
        shown = client.get(path, headers=headers).json()
        assert shown["disabled_reason"].startswith("every delivery failed since")
        with _engine(client).connect() as conn:
            mails = conn.execute(
                text(
                    "SELECT payload ->> 'to' FROM outbox_messages"
                    " WHERE event_type = 'email.endpoint_disabled'"
                )
            ).scalars()
            owners = conn.execute(
                text(
                    "SELECT u.email FROM users u JOIN memberships m ON m.user_id = u.id"
                    " WHERE m.role = 'owner' AND m.org_id = :org"
                ),
                {"org": org},
            ).scalars()
            assert list(mails) == list(owners)
        # Re-enabling starts the clock again.
        client.patch(path, json={"enabled": True}, headers=headers)
        again = client.get(path, headers=headers).json()
        assert again["enabled"]
        assert again["failing_since"] is None


class TestProductionTargetsAtDeliveryTime:
    def test_a_target_that_turned_private_is_refused(
        self, client: TestClient, receiver: Receiver
    ) -> None:
        # Saved while it was public; now its address is loopback (as after DNS rebinding).
        headers, org = owner_org(client)
        endpoint = add_endpoint(client, headers, org, receiver.url)
        finish_job(client, headers, org, "failed")
        with running_loop(_engine(client), environment="production", secret_key="p" * 40):
            wait_until(lambda: deliveries(client, headers, org, endpoint["id"]))
        (attempt,) = deliveries(client, headers, org, endpoint["id"])[:1]
        assert attempt["error"].startswith("refused:")
        assert receiver.received == []

    def test_the_explicit_setting_allows_private_targets(
        self, client: TestClient, receiver: Receiver
    ) -> None:
        headers, org = owner_org(client)
        endpoint = add_endpoint(client, headers, org, receiver.url)
        receiver.secrets = [endpoint["secret"]]
        finish_job(client, headers, org, "failed")
        settings = {
            "environment": "production",
            "secret_key": "p" * 40,
            "webhook_allow_private_targets": True,
        }
        with running_loop(_engine(client), **settings):
            wait_until(lambda: receiver.verified())


def _errors(client: TestClient, org: str) -> list[str]:
    with _engine(client).connect() as conn:
        return list(
            conn.execute(
                text("SELECT error FROM webhook_attempts WHERE org_id = :org"), {"org": org}
            ).scalars()
        )


def _dead(client: TestClient) -> int:
    with _engine(client).connect() as conn:
        count: int = conn.execute(
            text("SELECT count(*) FROM outbox_messages WHERE status = 'dead'")
        ).scalar_one()
    return count
