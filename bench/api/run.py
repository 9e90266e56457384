"""One `make bench-api` run: data, the wire count of statements, then the app and the
floors under the same Uvicorn, driven by wrk in turns, CPU read from /proc around each run."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from bench.api import procstat, statements
from bench.indexes.indexes import Environment, environment
from bench.jobs_api import checks, data, server, wrk
from bench.jobs_api.run import SUMMARY_BODY, _use_plans_file, settle
from pressroom.app import create_app
from pressroom.auth.tokens import create_access_token
from pressroom.config import get_settings
from pressroom.db import admin, migrations
from pressroom.db.session import make_engine
from pressroom.hashed_secrets import hash_secret


@dataclass
class Options:
    jobs: int = 1_000_000
    seed: int = 42
    seconds: float = 10.0
    warmup_seconds: float = 2.0
    connections: int = 16
    workers: int = 2
    pool_size: int = 20  # >= connections / workers: no request waits for or opens one
    deep: int = 100_000
    rounds: int = 2
    count_requests: int = 20
    database: str | None = None
    keep: bool = False


@dataclass
class Endpoint:
    label: str
    method: str
    path: str  # relative to the server's base URL
    token: str
    floor: bool = False


@dataclass
class Measured:
    label: str
    floor: bool
    requests: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    statements: float | None = None
    round_trips: float | None = None
    sql: list[str] = field(default_factory=list)
    connections_opened: int | None = None  # by the app, during the runs (not the floors)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def new_connections_per_1k(self) -> float | None:
        if self.connections_opened is None or not self.requests:
            return None
        return self.connections_opened / self.requests * 1000

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds / self.requests * 1000 if self.requests else 0.0

    @property
    def p50(self) -> float:
        return sorted(self.p50_ms)[len(self.p50_ms) // 2] if self.p50_ms else 0.0

    @property
    def p99(self) -> float:
        return max(self.p99_ms) if self.p99_ms else 0.0


@dataclass
class Results:
    options: Options
    command: str
    environment: Environment
    big_org_jobs: int
    deep_rows: int
    measured: list[Measured] = field(default_factory=list)

    def by_label(self, label: str) -> Measured:
        return next(m for m in self.measured if m.label == label)

    @property
    def bare_floor(self) -> Measured:
        return self.measured[0]


BARE, DB_FLOOR = "floor: bare FastAPI def", "floor: FastAPI + psycopg, one query"


def sessions_opened(db_url: str) -> int:
    """Connections ever opened to the bench database (this one excluded): a request that
    finds no idle pooled connection opens one, which costs the server a fork."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return int(row[0]) - 1


def _jwt(db_url: str, org_id: uuid.UUID) -> str:
    """An access token of the bench user (owner of the bench orgs) on a live login session."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT user_id FROM memberships WHERE org_id = %s LIMIT 1", (org_id,)
        ).fetchone()
        assert row is not None
        session_id = uuid.uuid4()
        conn.execute(
            "INSERT INTO auth_sessions (id, user_id, token_hash, expires_at)"
            " VALUES (%s, %s, %s, %s)",
            (session_id, row[0], hash_secret(secrets.token_hex(16)),
             datetime.now(UTC) + timedelta(days=1)),
        )  # fmt: skip
    token, _ = create_access_token(get_settings(), user_id=row[0], session_id=session_id)
    return token


def _endpoints(fx: data.Fixture, deep: str, jwt: str) -> list[Endpoint]:
    key, sub = fx.api_keys[fx.big_org], fx.api_keys[fx.submit_org]
    jobs = f"/v1/orgs/{fx.big_org}/jobs?limit=50"
    return [
        Endpoint(BARE, "GET", "/floor", "-", floor=True),
        Endpoint(DB_FLOOR, "GET", "/floor/db", "-", floor=True),
        Endpoint("GET jobs page 1, API key", "GET", jobs, key),
        Endpoint("GET jobs deep page, API key", "GET", f"{jobs}&after={deep}", key),
        Endpoint("GET jobs page 1, JWT", "GET", jobs, jwt),
        Endpoint("GET jobs deep page, JWT", "GET", f"{jobs}&after={deep}", jwt),
        Endpoint("GET jobs counts, API key", "GET", f"/v1/orgs/{fx.big_org}/jobs/counts", key),
        Endpoint("POST jobs, API key", "POST", f"/v1/orgs/{fx.submit_org}/jobs", sub),
    ]


def count_statements(db_url: str, endpoints: list[Endpoint], n: int) -> dict[str, Any]:
    """Per endpoint: (statements, round trips, the SQL of the last request), averaged over
    `n` requests through the real app in process after one to warm up."""
    engine = make_engine(db_url, pool_size=2)
    app = create_app(engine)
    counter = statements.WireCounter(engine, app.state.async_pool)
    out: dict[str, Any] = {}
    body = SUMMARY_BODY.encode()
    try:
        with TestClient(app) as client:
            for e in endpoints:
                if e.floor:
                    continue
                headers = {"Authorization": f"Bearer {e.token}"}
                if e.method == "POST":
                    headers["Content-Type"] = "application/json"
                totals = [0, 0]
                last: list[str] = []
                for i in range(n + 1):
                    with counter.count() as c:
                        r = client.request(e.method, e.path, content=body if e.method == "POST"
                                           else None, headers=headers)  # fmt: skip
                    if r.status_code >= 300:
                        raise RuntimeError(f"{e.label}: {r.status_code} {r.text}")
                    if i:
                        totals[0] += c.statements
                        totals[1] += c.round_trips
                        last = c.sql
                out[e.label] = (totals[0] / n, totals[1] / n, last)
    finally:
        engine.dispose()
    return out


@contextmanager
def _uvicorn(
    factory: str, env: dict[str, str], workers: int, log: Path
) -> Iterator[tuple[str, int]]:
    port = server.free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--no-access-log",
        "--log-level", "warning",
    ]  # fmt: skip
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd, env={**os.environ, **env}, cwd=server.PROJECT_ROOT, stdout=out, stderr=out
        )
    try:
        server._wait_ready(url, proc, log)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def run(
    server_url: str,
    server_label: str,
    options: Options,
    *,
    command: str,
    progress: Callable[[str], None] = lambda _: None,
) -> Results:
    wrk.require_wrk()
    os.environ.setdefault("PRESSROOM_SECRET_KEY", secrets.token_urlsafe(48))
    get_settings.cache_clear()
    env = environment(server_url, server_label)
    name = options.database or f"pressroom_bench_api_{uuid.uuid4().hex[:8]}"
    admin.drop_database(server_url, name)
    db_url = admin.create_database(server_url, name)
    workdir = Path(tempfile.mkdtemp(prefix="pressroom-bench-api-"))
    try:
        progress("migrating to head")
        migrations.upgrade(db_url, "head")
        shape = data.Shape.for_jobs(options.jobs)
        progress(f"loading {options.jobs:,} jobs")
        fx = data.load(db_url, shape, seed=options.seed)
        plans_file = _use_plans_file(shape, workdir)
        deep_rows = min(options.deep, fx.big_org_jobs - 60)
        deep = checks.deep_cursor(db_url, fx.big_org, deep_rows)
        endpoints = _endpoints(fx, deep, _jwt(db_url, fx.big_org))
        results = Results(options, command, env, fx.big_org_jobs, deep_rows)
        results.measured = [Measured(e.label, e.floor) for e in endpoints]
        progress("counting statements on the wire, in process")
        for label, (n, trips, sql) in count_statements(
            db_url, endpoints, options.count_requests
        ).items():
            m = results.by_label(label)
            m.statements, m.round_trips, m.sql = n, trips, sql
        app_env = {
            "DATABASE_URL": db_url,
            "PRESSROOM_PLANS_FILE": str(plans_file),
            "PRESSROOM_DB_POOL_SIZE": str(options.pool_size),
        }
        floor_env = {"FLOOR_DATABASE_URL": db_url, "FLOOR_ORG_ID": str(fx.big_org)}
        log = workdir / "server.log"
        w = options.workers
        with (
            _uvicorn("pressroom.app:create_app", app_env, w, log) as (app_url, app_pid),
            _uvicorn("bench.api.floor:create_app", floor_env, w, log) as (floor_url, floor_pid),
        ):
            body = workdir / "summary.json"
            body.write_text(SUMMARY_BODY)

            def drive(e: Endpoint, m: Measured | None, seconds: float) -> None:
                base, pid = (floor_url, floor_pid) if e.floor else (app_url, app_pid)
                sessions_before = sessions_opened(db_url)
                before = procstat.cpu_seconds(pid)
                r = wrk.run(
                    e.label, base + e.path, token=e.token, seconds=seconds,
                    connections=options.connections,
                    post_body=body if e.method == "POST" else None,
                )  # fmt: skip
                # wrk stops with requests in flight: the server finishes them (CPU counted).
                settle(db_url)
                time.sleep(0.2)
                used = procstat.cpu_seconds(pid) - before
                # Besides the app's: the first reading's own connection and settle()'s.
                opened = sessions_opened(db_url) - sessions_before - 2
                if m is None:
                    return
                if not e.floor:
                    m.connections_opened = (m.connections_opened or 0) + opened
                m.requests += r.requests
                m.seconds += r.seconds
                m.cpu_seconds += used
                m.p50_ms.append(r.p50_ms)
                m.p99_ms.append(r.p99_ms)
                for s, k in r.statuses.items():
                    m.statuses[s] = m.statuses.get(s, 0) + k

            progress("warming up")
            for e in endpoints:
                drive(e, None, options.warmup_seconds)
            # Endpoints take turns, round after round, so a burst of load from elsewhere
            # falls on floors and app alike.
            for n in range(options.rounds):
                for e, m in zip(endpoints, results.measured, strict=True):
                    progress(f"round {n + 1}: {e.label}")
                    drive(e, m, options.seconds)
        env.load_after = os.getloadavg()
        return results
    finally:
        if not options.keep:
            admin.drop_database(server_url, name)
