"""The async pool (pressroom.db.async_pool): the job listing and the counts by status on the
event loop, with the access statement entering the runtime role and its duty itself
(pressroom.db.tenancy.entered)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from bench.api.statements import WireCounter
from fastapi.testclient import TestClient
from sqlalchemy import Engine, bindparam, select

from pressroom.api_keys.models import ApiKey
from pressroom.db.async_pool import AsyncPool, DriverStatement
from pressroom.db.tenancy import RUNTIME_ROLE, SystemDuty, entered
from pressroom.db.url import to_libpq_url
from pressroom.hashed_secrets import hash_secret
from pressroom.orgs import access
from tests.db.backends import terminate_backend
from tests.http import create_api_key, create_org, make_client, new_user


@dataclass
class Api:
    client: TestClient
    engine: Engine
    pool: AsyncPool
    org_id: str
    user: dict[str, str]
    key: dict[str, Any]
    opened: list[Any]

    @property
    def key_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key['key']}"}


@pytest.fixture
def api(database_url: str) -> Iterator[Api]:
    client, engine = make_client(database_url)
    pool: AsyncPool = client.app.state.async_pool  # type: ignore[attr-defined]
    opened: list[Any] = []
    pool.on_connect.append(opened.append)
    _, user = new_user(client, "owner")
    org_id = create_org(client, user)
    key = create_api_key(client, user, org_id, ["jobs:read"])
    yield Api(client, engine, pool, org_id, user, key, opened)
    engine.dispose()


def _proof(database_url: str, statement: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run an access statement as the runtime role, where row-level security applies
    whoever logs in (the tests' login role is a superuser, which bypasses it)."""
    with psycopg.connect(to_libpq_url(database_url)) as conn:
        conn.execute(f"SET ROLE {RUNTIME_ROLE}")
        row = conn.execute(statement, params).fetchone()
        after = conn.execute(
            "SELECT current_user, current_setting('pressroom.system', true),"
            " current_setting('pressroom.org_ids', true),"
            " (SELECT count(*) FROM content_jobs)"
        ).fetchone()
        assert after is not None
        conn.rollback()
    return {"row": row, "user": after[0], "duty": after[1], "orgs": after[2], "jobs": after[3]}


class TestTheAccessStatementEntersItsDuty:
    def _params(self, api: Api, org_id: str) -> dict[str, Any]:
        statement = access._key_proof(None)
        return statement.params(
            secret_hash=hash_secret(api.key["key"]), now=datetime.now(UTC), org=uuid.UUID(org_id)
        )

    def test_the_key_is_found_where_row_level_security_applies(
        self, api: Api, database_url: str
    ) -> None:
        api.client.post(
            f"/v1/orgs/{api.org_id}/jobs",
            json={"kind": "summary", "input": {"text": "An article. " * 20}},
            headers=api.user,
        )
        seen = _proof(database_url, access._key_proof(None).sql, self._params(api, api.org_id))
        assert seen["row"] is not None
        # The statement ended the duty and scoped the transaction to the key's org.
        assert (seen["user"], seen["duty"], seen["orgs"]) == (RUNTIME_ROLE, "", api.org_id)
        assert seen["jobs"] == 1

    def test_without_the_duty_the_same_lookup_finds_nothing(
        self, api: Api, database_url: str
    ) -> None:
        # The control: row-level security does apply here, so the test above shows the
        # duty was on while the key was looked up, set by the statement itself.
        bare = DriverStatement(
            select(ApiKey.id).where(ApiKey.secret_hash == hash_secret(api.key["key"]))
        )
        seen = _proof(database_url, bare.sql, bare.params())
        assert seen["row"] is None

    def test_the_duty_rides_in_front_of_the_lookup(self) -> None:
        query = entered(select(ApiKey.id), SystemDuty.CREDENTIALS)
        sql = str(query.compile())
        # The lookup depends on the row that sets the duty: it can only run after it.
        assert "JOIN LATERAL" in sql
        assert "entry.duty IS NOT NULL" in sql

    def test_a_key_asking_for_another_org_scopes_to_nothing(
        self, api: Api, database_url: str
    ) -> None:
        seen = _proof(
            database_url, access._key_proof(None).sql, self._params(api, str(uuid.uuid4()))
        )
        assert seen["row"] is not None  # the key is live; the route answers 404
        assert (seen["duty"], seen["orgs"], seen["jobs"]) == ("", "", 0)


class TestTransactions:
    def test_errors_end_with_commit_on_the_same_connection(self, api: Api) -> None:
        counter = WireCounter(api.engine, api.pool)
        jobs = f"/v1/orgs/{api.org_id}/jobs"
        assert api.client.get(jobs, headers=api.key_headers).status_code == 200
        with counter.count() as counted:
            foreign = api.client.get(f"/v1/orgs/{uuid.uuid4()}/jobs", headers=api.key_headers)
            bad = api.client.get(jobs, headers={"Authorization": "Bearer prk_nope"})
            denied = api.client.get(jobs + "/counts", headers={"Authorization": "Bearer x.y.z"})
        assert (foreign.status_code, bad.status_code, denied.status_code) == (404, 401, 401)
        assert counted.sql.count("COMMIT") == 3
        assert not [s for s in counted.sql if s.startswith(("ROLLBACK", "DEALLOCATE"))]
        assert api.client.get(jobs, headers=api.key_headers).status_code == 200
        assert len(api.opened) == 1  # every request reused the one connection

    def test_a_key_without_the_permission_gets_403(self, api: Api) -> None:
        writer = create_api_key(api.client, api.user, api.org_id, ["jobs:write"])
        headers = {"Authorization": f"Bearer {writer['key']}"}
        response = api.client.get(f"/v1/orgs/{api.org_id}/jobs", headers=headers)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"

    def test_a_revoked_key_is_refused_at_once(self, api: Api) -> None:
        jobs = f"/v1/orgs/{api.org_id}/jobs"
        assert api.client.get(jobs, headers=api.key_headers).status_code == 200
        revoked = api.client.delete(
            f"/v1/orgs/{api.org_id}/api-keys/{api.key['id']}", headers=api.user
        )
        assert revoked.status_code == 204
        assert api.client.get(jobs, headers=api.key_headers).status_code == 401

    def test_the_key_use_is_recorded(self, api: Api, database_url: str) -> None:
        assert (
            api.client.get(f"/v1/orgs/{api.org_id}/jobs", headers=api.key_headers).status_code
            == 200
        )
        with psycopg.connect(to_libpq_url(database_url)) as conn:
            row = conn.execute(
                "SELECT last_used_at FROM api_keys WHERE id = %s", (api.key["id"],)
            ).fetchone()
        assert row is not None
        assert row[0] is not None


class TestConnections:
    def test_a_connection_the_server_closed_is_replaced(self, api: Api, database_url: str) -> None:
        jobs = f"/v1/orgs/{api.org_id}/jobs"
        assert api.client.get(jobs, headers=api.user).status_code == 200
        terminate_backend(database_url, api.opened[0].info.backend_pid)
        assert api.client.get(jobs, headers=api.user).status_code == 200
        assert len(api.opened) == 2

    def test_disposing_the_engine_closes_the_idle_connections(self, api: Api) -> None:
        assert api.client.get(f"/v1/orgs/{api.org_id}/jobs", headers=api.user).status_code == 200
        assert not api.opened[0].closed
        api.engine.dispose()
        assert api.opened[0].closed

    def test_many_concurrent_readers_each_get_their_own_connection(self, api: Api) -> None:
        jobs = f"/v1/orgs/{api.org_id}/jobs"

        def read(i: int) -> int:
            path = jobs if i % 2 else jobs + "/counts"
            headers = api.key_headers if i % 3 else api.user
            return api.client.get(path, headers=headers).status_code

        with ThreadPoolExecutor(8) as threads:
            statuses = list(threads.map(read, range(200)))
        assert statuses == [200] * 200
        # Never more connections than readers at once, all kept for the next burst.
        assert 1 <= len(api.opened) <= 8
        assert len(api.pool._idle) == len(api.opened)


class TestDriverStatement:
    def test_a_value_without_a_parameter_is_refused(self) -> None:
        statement = DriverStatement(select(ApiKey.id).where(ApiKey.name == bindparam("name")))
        assert statement.params(name="ci") == {"name": "ci"}
        with pytest.raises(TypeError, match="no parameter named nmae"):
            statement.params(nmae="ci")
