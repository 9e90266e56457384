"""The plan catalog (defaults, file overrides, validation) and the plan rule (plan_now)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pressroom.app import create_app
from pressroom.billing.models import Subscription
from pressroom.billing.plans import (
    PlansFileError,
    build_catalog,
    get_catalog,
    load_catalog,
    plan_now,
)
from pressroom.config import get_settings
from pressroom.db.tenancy import scope_to_orgs
from pressroom.generation.kinds import JobKind
from tests.billing.conftest import system, uid


class TestDefaults:
    def test_free_allows_a_subset_of_kinds_and_paid_plans_allow_all(self) -> None:
        catalog = build_catalog()
        assert set(catalog.plans) == {"free", "pro", "business"}
        free, pro = catalog.plans["free"], catalog.plans["pro"]
        assert free.allowed_kinds < set(JobKind)
        assert not free.allows("full_pack")
        assert pro.allowed_kinds == set(JobKind)
        assert free.monthly_quota < pro.monthly_quota < catalog.plans["business"].monthly_quota
        assert free.max_priority < pro.max_priority


class TestPlansFile:
    def test_toml_overrides_field_by_field(self, tmp_path: Path) -> None:
        path = tmp_path / "plans.toml"
        path.write_text('[plans.pro]\nstripe_price_ids = ["price_x"]\nmonthly_quota = 900\n')
        catalog = load_catalog(path)
        pro = catalog.plans["pro"]
        assert (pro.monthly_quota, pro.stripe_price_ids) == (900, ("price_x",))
        assert pro.max_concurrent_jobs == build_catalog().plans["pro"].max_concurrent_jobs
        assert catalog.plan_for_price("stripe", "price_x") == pro

    def test_json_file_may_add_a_plan(self, tmp_path: Path) -> None:
        path = tmp_path / "plans.json"
        team = {
            "monthly_quota": 50,
            "max_concurrent_jobs": 2,
            "allowed_kinds": ["summary"],
            "max_priority": 1,
            "paddle_price_ids": ["pri_team"],
        }
        path.write_text(json.dumps({"plans": {"team": team}}))
        catalog = load_catalog(path)
        assert catalog.plan_for_price("paddle", "pri_team") == catalog.plans["team"]

    @pytest.mark.parametrize(
        ("content", "names"),
        [
            ("[plans.pro]\nmonthly_quota = -1\n", "plans.pro.monthly_quota"),
            ('[plans.free]\nallowed_kinds = ["poems"]\n', "plans.free.allowed_kinds"),
            ("[plans.pro]\nsurprise = 1\n", "plans.pro.surprise"),
            (
                '[plans.pro]\nstripe_price_ids = ["p"]\n'
                '[plans.business]\nstripe_price_ids = ["p"]\n',
                "maps to both",
            ),
            ("[plans.team]\nmonthly_quota = 5\n", "plans.team.max_concurrent_jobs"),
            ("[plans\n", "plans.toml"),
            ("[other]\n", "unknown top-level key"),
        ],
    )
    def test_a_bad_file_is_a_clear_error(self, tmp_path: Path, content: str, names: str) -> None:
        path = tmp_path / "plans.toml"
        path.write_text(content)
        with pytest.raises(PlansFileError, match="invalid plans file") as info:
            load_catalog(path)
        assert names in str(info.value)

    def test_a_missing_file_is_a_clear_error(self, tmp_path: Path) -> None:
        with pytest.raises(PlansFileError, match=r"nope\.toml"):
            load_catalog(tmp_path / "nope.toml")

    def test_the_app_refuses_to_start_with_a_bad_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: Engine
    ) -> None:
        path = tmp_path / "bad.toml"
        path.write_text("[plans.pro]\nmax_priority = 'high'\n")
        monkeypatch.setenv("PRESSROOM_PLANS_FILE", str(path))
        get_settings.cache_clear()
        get_catalog.cache_clear()
        with pytest.raises(PlansFileError, match=r"plans\.pro\.max_priority"):
            create_app(engine)


class TestPlanNow:
    def _subscribe(self, engine: Engine, org: uuid.UUID, status: str, plan: str) -> None:
        with Session(system(engine)) as session:
            session.add(
                Subscription(
                    org_id=org,
                    provider="stripe",
                    provider_subscription_id=uid("sub"),
                    plan=plan,
                    status=status,
                    state_as_of=datetime.now(UTC),
                )
            )
            session.commit()

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            ("active", "pro"),
            ("trialing", "pro"),
            ("past_due", "pro"),
            ("incomplete", "free"),
            ("incomplete_expired", "free"),
            ("unpaid", "free"),
            ("paused", "free"),
            ("canceled", "free"),
        ],
    )
    def test_status_decides_access(
        self, engine: Engine, make_org: Callable[[], uuid.UUID], status: str, expected: str
    ) -> None:
        org = make_org()
        self._subscribe(engine, org, status, "pro")
        with Session(engine) as session:
            assert plan_now(session, scope_to_orgs(session, [org])).name == expected

    def test_an_org_without_subscription_is_free(
        self, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        with Session(engine) as session:
            assert plan_now(session, scope_to_orgs(session, [make_org()])).name == "free"

    def test_a_live_subscription_beats_an_old_canceled_one(
        self, engine: Engine, make_org: Callable[[], uuid.UUID]
    ) -> None:
        org = make_org()
        self._subscribe(engine, org, "active", "business")
        self._subscribe(engine, org, "canceled", "pro")
        with Session(engine) as session:
            assert plan_now(session, scope_to_orgs(session, [org])).name == "business"
