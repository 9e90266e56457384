"""The plan catalog: what each plan lets an organization do, and which provider prices buy it.

Defaults are built in; `PRESSROOM_PLANS_FILE` (TOML or JSON) overrides them field by field
(`[plans.pro] stripe_price_ids = ["price_..."]` is a whole valid file) or adds plans. The
file is validated when the app starts: a bad file stops the start with a message naming
the file and the field.
"""

from __future__ import annotations

import json
import tomllib
import uuid
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import ColumnElement, Select, literal, literal_column, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from pressroom.billing.models import ACCESS_STATUSES, Subscription
from pressroom.config import get_settings
from pressroom.db.tenancy import OrgScope
from pressroom.generation.kinds import JobKind
from pressroom.orgs.models import Organization

FREE_PLAN = "free"


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    monthly_quota: int = Field(ge=0, description="Jobs per calendar month (UTC).")
    max_concurrent_jobs: int = Field(ge=1)
    allowed_kinds: frozenset[JobKind] = Field(min_length=1)
    max_priority: int = Field(ge=0)
    # Days a finished job's input and artifacts are kept (pressroom.jobs.retention).
    retention_days: int = Field(default=30, ge=1, le=36_500)
    stripe_price_ids: tuple[str, ...] = ()
    paddle_price_ids: tuple[str, ...] = ()

    def allows(self, kind: str) -> bool:
        return kind in self.allowed_kinds


DEFAULT_PLANS: dict[str, dict[str, Any]] = {
    "free": {
        "monthly_quota": 20,
        "max_concurrent_jobs": 1,
        "allowed_kinds": ["summary", "key_points"],
        "max_priority": 0,
        "retention_days": 30,
    },
    "pro": {
        "monthly_quota": 500,
        "max_concurrent_jobs": 5,
        "allowed_kinds": list(JobKind),
        "max_priority": 5,
        "retention_days": 90,
    },
    "business": {
        "monthly_quota": 5000,
        "max_concurrent_jobs": 20,
        "allowed_kinds": list(JobKind),
        "max_priority": 10,
        "retention_days": 365,
    },
}


class PlanCatalog(BaseModel):
    model_config = ConfigDict(frozen=True)

    plans: dict[str, Plan]

    @model_validator(mode="after")
    def _consistent(self) -> PlanCatalog:
        if FREE_PLAN not in self.plans:
            raise ValueError(f"the catalog must define the {FREE_PLAN!r} plan (the fallback)")
        for provider in ("stripe", "paddle"):
            owner: dict[str, str] = {}
            for plan in self.plans.values():
                for price in getattr(plan, f"{provider}_price_ids"):
                    if price in owner:
                        raise ValueError(
                            f"{provider} price {price!r} maps to both {owner[price]!r} "
                            f"and {plan.name!r}"
                        )
                    owner[price] = plan.name
        return self

    def get(self, name: str) -> Plan:
        """The named plan; an unknown name (a plan removed from the catalog) gives free."""
        return self.plans.get(name) or self.plans[FREE_PLAN]

    def plan_for_price(self, provider: str, price_id: str) -> Plan | None:
        for plan in self.plans.values():
            if price_id in getattr(plan, f"{provider}_price_ids", ()):
                return plan
        return None


class PlansFileError(ValueError):
    """The plans file is unreadable or invalid; the message names the file and the field."""


def build_catalog(overrides: Mapping[str, Any] | None = None) -> PlanCatalog:
    merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in DEFAULT_PLANS.items()}
    for name, fields in (overrides or {}).items():
        if not isinstance(fields, Mapping):
            raise ValueError(f"plans.{name} must be a table of fields")
        merged.setdefault(name, {}).update(fields)
    return PlanCatalog.model_validate(
        {"plans": {name: {"name": name, **fields} for name, fields in merged.items()}}
    )


def _read(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    if not isinstance(data, dict):
        raise ValueError("the top level must be an object with a 'plans' table")
    return data


def load_catalog(path: Path | None) -> PlanCatalog:
    if path is None:
        return build_catalog()
    try:
        data = _read(path)
        unknown = set(data) - {"plans"}
        if unknown:
            raise ValueError(f"unknown top-level key(s) {sorted(unknown)}; expected 'plans'")
        plans = data.get("plans", {})
        if not isinstance(plans, dict):
            raise ValueError("'plans' must be a table keyed by plan name")
        return build_catalog(plans)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise PlansFileError(f"invalid plans file {path}: {problems}") from None
    except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise PlansFileError(f"invalid plans file {path}: {exc}") from None


@lru_cache
def get_catalog() -> PlanCatalog:
    return load_catalog(get_settings().plans_file)


_LIVE = aliased(Subscription, name="live")


def live_subscriptions(
    org_id: ColumnElement[uuid.UUID] | InstrumentedAttribute[uuid.UUID],
) -> Select[Subscription]:
    """The rule, written once: an org's plan now is that of its live subscription (one in
    ACCESS_STATUSES) whose state the provider set last (`state_as_of`), the newest row
    breaking ties; with none, free. `org_id` names the org: a column to correlate with, or
    a value. The functions below and the worker's claim SQL (LIVE_PLAN_SQL) all use it."""
    return (
        select(_LIVE)
        # The statuses as plain parameters, not an expanding IN: the statement can then be
        # compiled once for the driver (pressroom.db.async_pool.DriverStatement).
        .where(_LIVE.org_id == org_id, _LIVE.status.in_([literal(s) for s in ACCESS_STATUSES]))
        .order_by(_LIVE.state_as_of.desc().nulls_last(), _LIVE.created_at.desc(), _LIVE.id.desc())
        .limit(1)
        .correlate_except(_LIVE)
    )


def _live_plan_sql() -> str:
    query: Select[Any] = live_subscriptions(literal_column("{org}"))
    query = query.with_only_columns(_LIVE.plan)
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    compiled = query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    return f"({compiled})"


# The plan name of the org whose id is `{org}` (NULL: free), for raw SQL run per org (the
# worker's claim): the same rule, compiled.
LIVE_PLAN_SQL = _live_plan_sql()


def live_subscription(session: Session, scope: OrgScope) -> Subscription | None:
    """The org's subscription that currently grants access, if any."""
    return session.scalars(live_subscriptions(literal(scope.org_id))).first()


def live_plan_name() -> ColumnElement[str | None]:
    """The plan name of the org of `Organization.id` (correlated; NULL: free), as a column
    of a statement that reads orgs (`plans_now`, orgs.access's on the async pool)."""
    return live_subscriptions(Organization.id).with_only_columns(_LIVE.plan).scalar_subquery()


def plans_now(
    session: Session, scope: OrgScope, *, catalog: PlanCatalog | None = None
) -> dict[uuid.UUID, Plan]:
    """The plan each org of the scope may use now."""
    catalog = catalog or get_catalog()
    rows = session.execute(
        select(Organization.id, live_plan_name()).where(scope.where(Organization.id))
    )
    return {org_id: catalog.get(name or FREE_PLAN) for org_id, name in rows}


def plan_now(session: Session, scope: OrgScope, *, catalog: PlanCatalog | None = None) -> Plan:
    """The plan the org may use now: its live subscription's plan, else free."""
    sub = live_subscription(session, scope)
    return plan_named(sub.plan if sub is not None else None, catalog=catalog)


def plan_named(name: str | None, *, catalog: PlanCatalog | None = None) -> Plan:
    """The plan of a live subscription's plan name; None (no live subscription): free."""
    return (catalog or get_catalog()).get(name or FREE_PLAN)
