"""Billing test fixtures: configured secrets and plans, an app on a private database."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pressroom.app import create_app
from pressroom.billing.models import BillingEvent, Subscription
from pressroom.billing.plans import get_catalog
from pressroom.config import get_settings
from pressroom.db.session import make_engine
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.orgs.models import Organization
from tests.billing import paddle_events, stripe_events
from tests.billing.fake_stripe import stripe_api

STRIPE_SECRET = "whsec_test_current"
STRIPE_OLD_SECRET = "whsec_test_previous"
PADDLE_SECRET = "pdl_ntfset_test_secret"

PLANS_TOML = f"""
[plans.pro]
stripe_price_ids = ["{stripe_events.PRO_PRICE}"]
paddle_price_ids = ["{paddle_events.PADDLE_PRO_PRICE}"]

[plans.business]
stripe_price_ids = ["{stripe_events.BUSINESS_PRICE}"]
"""


def _clear_caches() -> None:
    get_settings.cache_clear()
    get_catalog.cache_clear()


@pytest.fixture(autouse=True)
def billing_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    plans = tmp_path / "plans.toml"
    plans.write_text(PLANS_TOML)
    monkeypatch.setenv("PRESSROOM_PLANS_FILE", str(plans))
    # Rotation: the new secret first, the old one still accepted.
    monkeypatch.setenv("PRESSROOM_STRIPE_WEBHOOK_SECRET", f"{STRIPE_SECRET},{STRIPE_OLD_SECRET}")
    monkeypatch.setenv("PRESSROOM_PADDLE_WEBHOOK_SECRET", PADDLE_SECRET)
    _clear_caches()
    yield
    _clear_caches()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url, pool_size=4)
    yield eng
    eng.dispose()


def system(engine: Engine) -> Engine:
    """The test's own view of every org's rows (fixtures and checks), by a named duty."""
    return system_engine(engine, SystemDuty.MAINTENANCE)


@pytest.fixture
def client(engine: Engine) -> TestClient:
    return TestClient(create_app(engine))


@pytest.fixture
def make_org(engine: Engine) -> Callable[[], uuid.UUID]:
    def make() -> uuid.UUID:
        with Session(system(engine)) as session:
            org = Organization(name="Acme")
            session.add(org)
            session.commit()
            return org.id

    return make


def post_stripe(
    client: TestClient | httpx.Client, evt: dict[str, Any], secret: str = STRIPE_SECRET
) -> httpx.Response:
    body = stripe_events.body_of(evt)
    return client.post(
        "/v1/webhooks/stripe", content=body, headers=stripe_events.signed_headers(body, secret)
    )


def post_paddle(client: TestClient, evt: dict[str, Any]) -> httpx.Response:
    body = paddle_events.body_of(evt)
    return client.post(
        "/v1/webhooks/paddle",
        content=body,
        headers=paddle_events.signed_headers(body, PADDLE_SECRET),
    )


def subscription_row(engine: Engine, provider_subscription_id: str) -> Subscription | None:
    with Session(system(engine)) as session:
        return session.scalars(
            select(Subscription).where(
                Subscription.provider_subscription_id == provider_subscription_id
            )
        ).first()


def events(engine: Engine, provider: str = "stripe") -> list[BillingEvent]:
    with Session(system(engine)) as session:
        return list(
            session.scalars(select(BillingEvent).where(BillingEvent.provider == provider)).all()
        )


def uid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """`app` under a real Uvicorn on 127.0.0.1 (a free port), for concurrent clients."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_url(engine: Engine) -> Iterator[str]:
    with serving(create_app(engine)) as url:
        yield url


__all__ = ["stripe_api"]  # a fixture, for the tests of this folder
