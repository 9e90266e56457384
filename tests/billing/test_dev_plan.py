"""`pressroom dev set-plan ORG_ID PLAN`: every kind can be tried locally; production
refuses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pressroom.cli import app
from pressroom.config import get_settings
from tests.http import create_org, new_user
from tests.jobs.test_api import ARTICLE


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def _full_pack(client: TestClient, org: str, auth: dict[str, str]) -> int:
    body = {"kind": "full_pack", "input": {"text": ARTICLE}}
    return client.post(f"/v1/orgs/{org}/jobs", json=body, headers=auth).status_code


def test_set_plan_puts_the_org_on_pro_and_back(
    client: TestClient, cli_env: pytest.MonkeyPatch
) -> None:
    _, auth = new_user(client)
    org = create_org(client, auth)
    assert _full_pack(client, org, auth) == 402

    result = CliRunner().invoke(app, ["dev", "set-plan", org, "pro"])
    assert result.exit_code == 0, result.output
    assert f"organization {org} is on the 'pro' plan" in result.output
    assert client.get(f"/v1/orgs/{org}", headers=auth).json()["plan"] == "pro"
    assert client.get(f"/v1/orgs/{org}/usage", headers=auth).json()["jobs_limit"] == 500
    assert _full_pack(client, org, auth) == 202

    # Twice is fine (one development subscription per org), and `free` ends it.
    assert CliRunner().invoke(app, ["dev", "set-plan", org, "business"]).exit_code == 0
    assert client.get(f"/v1/orgs/{org}", headers=auth).json()["plan"] == "business"
    assert CliRunner().invoke(app, ["dev", "set-plan", org, "free"]).exit_code == 0
    assert client.get(f"/v1/orgs/{org}", headers=auth).json()["plan"] == "free"
    assert _full_pack(client, org, auth) == 402


def test_unknown_plan_or_org_is_one_line(client: TestClient, cli_env: pytest.MonkeyPatch) -> None:
    _, auth = new_user(client)
    org = create_org(client, auth)
    result = CliRunner().invoke(app, ["dev", "set-plan", org, "platinum"])
    assert result.exit_code == 2
    assert "'platinum' is not in the catalog (free, pro, business)" in result.output
    other = "01a2334a-0000-7000-8000-000000000000"
    result = CliRunner().invoke(app, ["dev", "set-plan", other, "pro"])
    assert result.exit_code == 2
    assert f"no organization {other}" in result.output


def test_production_refuses_it(client: TestClient, cli_env: pytest.MonkeyPatch) -> None:
    _, auth = new_user(client)
    org = create_org(client, auth)
    cli_env.setenv("PRESSROOM_ENVIRONMENT", "production")
    cli_env.setenv("PRESSROOM_SECRET_KEY", "k" * 48)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["dev", "set-plan", org, "pro"])
    assert result.exit_code == 2
    assert "for development only" in result.output
    assert client.get(f"/v1/orgs/{org}", headers=auth).json()["plan"] == "free"
