"""The plan rule is written once (billing.plans.live_subscriptions): an org whose
subscriptions disagree — two live ones and a canceled one, ordered differently by
`updated_at`, `state_as_of` and creation — has the same plan in the org listing, the org,
usage and billing views, submission enforcement, and the worker's claim.

The rule picks the live subscription the provider set last (`state_as_of`): here the
trialing "pro" one. The three copies this replaced would have said "business" in the
listing and the claim (newest `updated_at`) and "pro" at submission.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pressroom.billing.models import Subscription
from pressroom.billing.plans import build_catalog
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.jobs import queue
from pressroom.jobs.policy import concurrency_policy
from tests.http import create_org, make_client, new_user

TEXT = "A long enough article about the quarterly plans of the organization, for a summary."


@pytest.fixture
def world(database_url: str) -> Iterator[tuple[TestClient, Engine, str, dict[str, str]]]:
    client, engine = make_client(database_url)
    _, owner = new_user(client, "owner")
    org_id = create_org(client, owner)
    now = datetime.now(UTC)

    def sub(plan: str, status: str, state_as_of: datetime, updated_at: datetime) -> Subscription:
        return Subscription(
            org_id=uuid.UUID(org_id),
            provider="stripe",
            provider_subscription_id=f"sub_{uuid.uuid4().hex}",
            plan=plan,
            status=status,
            state_as_of=state_as_of,
            updated_at=updated_at,
        )

    with Session(system_engine(engine, SystemDuty.MAINTENANCE)) as session, session.begin():
        session.add_all(
            [
                # Live, touched most recently, but its state is older.
                sub("business", "active", now - timedelta(days=2), now),
                # Live, its state set last by the provider: the rule's pick.
                sub("pro", "trialing", now - timedelta(hours=1), now - timedelta(days=3)),
                # Canceled: never the plan, however new.
                sub("business", "canceled", now, now),
            ]
        )
    yield client, engine, org_id, owner
    engine.dispose()


def test_every_reader_sees_the_same_plan(
    world: tuple[TestClient, Engine, str, dict[str, str]],
) -> None:
    client, engine, org_id, owner = world
    catalog = build_catalog()
    pro, business = catalog.plans["pro"], catalog.plans["business"]
    assert pro.max_priority < business.max_priority
    assert pro.max_concurrent_jobs < business.max_concurrent_jobs

    listing = client.get("/v1/orgs", headers=owner).json()["items"]
    assert [o["plan"] for o in listing if o["id"] == org_id] == ["pro"]
    assert client.get(f"/v1/orgs/{org_id}", headers=owner).json()["plan"] == "pro"
    assert client.get(f"/v1/orgs/{org_id}/usage", headers=owner).json()["plan"] == "pro"
    billing = client.get(f"/v1/orgs/{org_id}/subscription", headers=owner).json()
    assert billing["plan"]["name"] == "pro"

    # Submission enforces pro: business's top priority is refused, pro's is accepted.
    jobs = f"/v1/orgs/{org_id}/jobs"
    refused = client.post(
        jobs,
        json={"kind": "summary", "input": {"text": TEXT}, "priority": business.max_priority},
        headers=owner,
    )
    assert refused.status_code == 422, refused.text
    assert "'pro' plan" in refused.text
    for _ in range(pro.max_concurrent_jobs + 2):
        accepted = client.post(
            jobs,
            json={"kind": "summary", "input": {"text": TEXT}, "priority": pro.max_priority},
            headers=owner,
        )
        assert accepted.status_code == 202, accepted.text

    # The claim runs pro's concurrency limit, not business's (nor free's).
    with system_engine(engine, SystemDuty.WORKER).begin() as conn:
        claims = queue.claim(
            conn, worker_id="t", limit=50, lease_seconds=30, policy=concurrency_policy(catalog)
        )
    assert len(claims) == pro.max_concurrent_jobs
