"""Row-level security, the second wall (docs/architecture.md, "Tenant isolation").

A transaction scoped to org A sees none of org B's rows even when the query forgets its
org filter; with no scope at all it sees no org-owned row; it cannot write a row of
another org; the runtime role is not the tables' owner and cannot bypass the policies.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from pressroom.api_keys.models import ApiKey
from pressroom.billing.models import Subscription
from pressroom.db.tenancy import (
    RUNTIME_ROLE,
    AccessProof,
    SystemDuty,
    scope_to_orgs,
    system_engine,
)
from pressroom.jobs.models import ContentArtifact, ContentJob
from pressroom.orgs.models import Invitation, Membership, Organization
from pressroom.usage.models import UsageCounter
from tests.api.test_tenant_isolation import World
from tests.http import make_client

# Every org-owned model and its org column.
TENANT_MODELS: list[tuple[Any, Any]] = [
    (Organization, Organization.id),
    (Membership, Membership.org_id),
    (Invitation, Invitation.org_id),
    (ApiKey, ApiKey.org_id),
    (Subscription, Subscription.org_id),
    (UsageCounter, UsageCounter.org_id),
    (ContentJob, ContentJob.org_id),
    (ContentArtifact, ContentArtifact.org_id),
]


@pytest.fixture(scope="module")
def setup(database_url_module: str) -> Iterator[tuple[World, Engine]]:
    client, engine = make_client(database_url_module)
    world = World(client)
    with Session(system_engine(engine, SystemDuty.MAINTENANCE)) as session, session.begin():
        org_b = uuid.UUID(world.org_b)
        # A subscription for B too, so that every org-owned table holds a row of B.
        session.add(
            Subscription(
                org_id=org_b,
                provider="stripe",
                provider_subscription_id=f"sub_{uuid.uuid4().hex}",
                plan="pro",
                status="active",
            )
        )
    yield world, engine
    engine.dispose()


@pytest.fixture(scope="module")
def database_url_module(server_url: str, template_database: str) -> Iterator[str]:
    from pressroom.db import admin

    name = f"pressroom_test_rls_{uuid.uuid4().hex[:10]}"
    yield admin.create_database(server_url, name, template=template_database)
    admin.drop_database(server_url, name)


class TestScopedSession:
    @pytest.mark.parametrize(("model", "org_column"), TENANT_MODELS)
    def test_a_query_without_its_org_filter_sees_only_the_scoped_org(
        self, setup: tuple[World, Engine], model: Any, org_column: Any
    ) -> None:
        world, engine = setup
        org_a, org_b = uuid.UUID(world.org_a), uuid.UUID(world.org_b)
        with Session(system_engine(engine, SystemDuty.MAINTENANCE)) as session:
            everyone = set(session.scalars(select(org_column)))
        assert org_b in everyone  # B has rows in this table: the check below means something
        with Session(engine) as session:
            scope_to_orgs(session, [org_a])
            # The filter is left out on purpose.
            seen = set(session.scalars(select(org_column)))
        assert org_b not in seen
        assert seen <= {org_a}

    @pytest.mark.parametrize(("model", "org_column"), TENANT_MODELS)
    def test_without_a_scope_no_org_row_is_visible(
        self, setup: tuple[World, Engine], model: Any, org_column: Any
    ) -> None:
        _, engine = setup
        with Session(engine) as session:
            assert session.scalars(select(org_column)).all() == []

    def test_a_row_of_another_org_cannot_be_written(self, setup: tuple[World, Engine]) -> None:
        world, engine = setup
        with Session(engine) as session:
            scope_to_orgs(session, [uuid.UUID(world.org_a)])
            with pytest.raises(ProgrammingError, match="row-level security"):
                session.execute(
                    text("INSERT INTO organizations (id, name) VALUES (:id, 'forged')"),
                    {"id": uuid.uuid4()},
                )

    def test_a_foreign_update_changes_nothing(self, setup: tuple[World, Engine]) -> None:
        world, engine = setup
        with Session(engine) as session:
            scope_to_orgs(session, [uuid.UUID(world.org_a)])
            touched = session.execute(
                text("UPDATE content_jobs SET priority = 9 WHERE org_id = :b RETURNING id"),
                {"b": world.org_b},
            ).all()
            session.rollback()
        assert touched == []

    def test_every_transaction_runs_as_the_runtime_role(self, setup: tuple[World, Engine]) -> None:
        _, engine = setup
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar() == RUNTIME_ROLE
            conn.commit()
            # And again in the next transaction on the same pooled connection.
            assert conn.execute(text("SELECT current_user")).scalar() == RUNTIME_ROLE

    def test_the_scope_ends_with_the_transaction(self, setup: tuple[World, Engine]) -> None:
        world, engine = setup
        with engine.connect() as conn:
            with Session(bind=conn) as session:
                scope_to_orgs(session, [uuid.UUID(world.org_a)])
                assert session.scalars(select(Organization.id)).all()
                session.commit()
            # Same connection, next transaction: nothing carried over (a pooler may hand
            # this connection to anyone).
            assert conn.execute(select(Organization.id)).all() == []
            setting = "SELECT current_setting('pressroom.org_ids', true)"
            assert conn.execute(text(setting)).scalar() in (None, "")


_SETTINGS = (
    "SELECT current_setting('pressroom.system', true), current_setting('pressroom.org_ids', true)"
)


class TestAccessProof:
    """The one-statement access check: its duty ends with its row, and it scopes the
    transaction to the org it proved, or to nothing."""

    def _prove(self, engine: Engine, org: uuid.UUID, wanted: uuid.UUID) -> tuple[Any, ...]:
        with Session(engine) as session:
            proof = AccessProof(session, SystemDuty.CREDENTIALS)
            row = session.execute(
                select(Organization.id, *proof.columns(Organization.id, wanted)).where(
                    Organization.id == org
                )
            ).first()
            if row is None:
                proof.failed()
            settings = session.execute(text(_SETTINGS)).one()
            visible = session.scalars(select(Organization.id)).all()
        return row is not None, tuple(settings), visible

    def test_a_proven_org_is_the_only_one_left_visible(self, setup: tuple[World, Engine]) -> None:
        world, engine = setup
        org_a = uuid.UUID(world.org_a)
        found, (duty, orgs), visible = self._prove(engine, org_a, org_a)
        assert (found, duty, orgs) == (True, "", world.org_a)
        assert visible == [org_a]

    def test_a_row_of_another_org_scopes_to_nothing(self, setup: tuple[World, Engine]) -> None:
        world, engine = setup
        found, (duty, orgs), visible = self._prove(
            engine, uuid.UUID(world.org_b), uuid.UUID(world.org_a)
        )
        assert (found, duty, orgs) == (True, "", "")
        assert visible == []

    def test_no_row_ends_the_duty_all_the_same(self, setup: tuple[World, Engine]) -> None:
        world, engine = setup
        found, (duty, orgs), visible = self._prove(engine, uuid.uuid4(), uuid.UUID(world.org_a))
        assert (found, duty, orgs or "") == (False, "", "")
        assert visible == []


class TestCatalog:
    def test_every_org_owned_table_has_forced_rls_and_the_policy(
        self, setup: tuple[World, Engine]
    ) -> None:
        _, engine = setup
        with Session(system_engine(engine, SystemDuty.MAINTENANCE)) as session:
            org_tables = set(
                session.scalars(
                    text(
                        "SELECT table_name FROM information_schema.columns "
                        "WHERE table_schema = 'public' AND column_name = 'org_id'"
                    )
                )
            ) | {"organizations"}
            rows = session.execute(
                text(
                    "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, p.polname,"
                    " pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)"
                    " FROM pg_class c LEFT JOIN pg_policy p ON p.polrelid = c.oid"
                    " WHERE c.relname = ANY(:tables) AND c.relkind = 'r'"
                ),
                {"tables": sorted(org_tables)},
            ).all()
        assert {r[0] for r in rows} == org_tables
        for table, enabled, forced, policy, using, check in rows:
            assert (enabled, forced, policy) == (True, True, "tenant_isolation"), table
            assert "pressroom_in_scope" in using, table
            assert "pressroom_in_scope" in check, table
        assert {t for t, *_ in rows} >= {m.__tablename__ for m, _ in TENANT_MODELS}

    def test_the_runtime_role_cannot_bypass_rls_and_owns_nothing(
        self, setup: tuple[World, Engine]
    ) -> None:
        _, engine = setup
        with Session(system_engine(engine, SystemDuty.MAINTENANCE)) as session:
            role = session.execute(
                text("SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = :r"),
                {"r": RUNTIME_ROLE},
            ).one()
            owned = session.scalars(
                text("SELECT tablename FROM pg_tables WHERE tableowner = :r"), {"r": RUNTIME_ROLE}
            ).all()
            with pytest.raises(ProgrammingError):
                session.execute(text("ALTER TABLE content_jobs DISABLE ROW LEVEL SECURITY"))
        assert tuple(role) == (False, False, False)
        assert owned == []
