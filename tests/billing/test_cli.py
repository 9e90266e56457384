"""`pressroom billing reprocess` applies kept events once their cause is fixed."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pressroom.cli import app
from pressroom.config import get_settings
from pressroom.orgs.models import Organization
from tests.billing import stripe_events as se
from tests.billing.conftest import events, post_stripe, subscription_row, system, uid


class TestReprocess:
    def test_failed_event_is_applied_after_the_cause_is_fixed(
        self,
        client: TestClient,
        engine: Engine,
        database_url: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("DATABASE_URL", database_url)
        get_settings.cache_clear()
        org, sub = uuid.uuid4(), uid("sub")
        obj = se.subscription(sub, customer=uid("cus"), status="active", org_id=str(org))
        evt = se.event(uid("evt"), "customer.subscription.created", obj, 1_760_000_000)
        assert post_stripe(client, evt).json()["outcome"] == "failed"

        runner = CliRunner()
        still_failing = runner.invoke(app, ["billing", "reprocess"])
        assert still_failing.exit_code == 1, still_failing.output
        assert "1 still failing" in still_failing.output
        (stored,) = events(engine)
        assert stored.attempts == 2
        assert stored.processed_at is None

        with Session(system(engine)) as session:  # the org the event names now exists
            session.add(Organization(id=org, name="Late"))
            session.commit()
        fixed = runner.invoke(app, ["billing", "reprocess", "--provider", "stripe"])
        assert fixed.exit_code == 0, fixed.output
        assert "1 applied" in fixed.output
        row = subscription_row(engine, sub)
        assert row is not None
        assert (row.org_id, row.status) == (org, "active")
        (stored,) = events(engine)
        assert stored.processed_at is not None
        assert stored.error is None
