"""One bench run, phase by phase: data, plans, load, checks. Returns every figure."""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from bench.indexes.indexes import Environment, environment
from bench.jobs_api import checks, data, server, wrk
from pressroom.billing import plans
from pressroom.config import get_settings
from pressroom.db import admin, migrations

SUMMARY_BODY = (
    '{"kind": "summary", "input": {"text": "PostgreSQL can be a job queue. With FOR UPDATE '
    "SKIP LOCKED, many workers claim different rows without blocking each other, and the "
    'queue shares transactions with the rest of the data."}}'
)


@dataclass
class Options:
    jobs: int = 1_000_000
    seed: int = 42
    seconds: float = 15.0
    warmup_seconds: float = 3.0
    connections: int = 32
    edge_connections: int = 64
    workers: int = 2
    pool_size: int = 10
    deep: int = 100_000
    page_limit: int = 100
    edge_headroom: int = 0  # 0: a third of what the no-key submission run accepted
    replay_pool: int = 50
    list_rounds: int = 2
    service_rounds: int = 10
    database: str | None = None
    keep: bool = False


@dataclass
class Consistency:
    label: str
    ok: bool
    detail: str


@dataclass
class Results:
    options: Options
    command: str
    environment: Environment
    shape: data.Shape
    big_org_jobs: int
    deep_rows: int
    edge_headroom: int
    loads: list[tuple[str, int, float]]
    load_seconds: float
    runs: list[wrk.WrkResult] = field(default_factory=list)
    consistency: list[Consistency] = field(default_factory=list)
    page_through: checks.PageThrough | None = None
    captured: list[checks.CapturedRequest] = field(default_factory=list)
    service: list[checks.ServiceTime] = field(default_factory=list)
    plans: list[checks.PlanCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        plans_ok = all(p.label.startswith("submit") or _list_plan_ok(p) for p in self.plans)
        paged = self.page_through is None or self.page_through.matches
        return plans_ok and paged and all(c.ok for c in self.consistency)


def _list_plan_ok(p: checks.PlanCheck) -> bool:
    if "FROM content_jobs" not in p.statement:
        return not p.seq_scans
    return checks.LIST_INDEX in p.indexes and not p.seq_scans and not p.full_sort


def _use_plans_file(shape: data.Shape, directory: Path) -> Path:
    """The server and the in-process capture both read the catalog from this file."""
    path = directory / "plans.toml"
    path.write_text(shape.plans_toml())
    os.environ["PRESSROOM_PLANS_FILE"] = str(path)
    get_settings.cache_clear()
    plans.get_catalog.cache_clear()
    return path


def run(
    server_url: str,
    server_label: str,
    options: Options,
    *,
    command: str,
    progress: Callable[[str], None] = lambda _: None,
) -> Results:
    wrk.require_wrk()
    env = environment(server_url, server_label)
    name = options.database or f"pressroom_bench_jobs_{uuid.uuid4().hex[:8]}"
    admin.drop_database(server_url, name)
    db_url = admin.create_database(server_url, name)
    workdir = Path(tempfile.mkdtemp(prefix="pressroom-bench-jobs-"))
    try:
        progress("migrating to head")
        migrations.upgrade(db_url, "head")
        shape = data.Shape.for_jobs(options.jobs)
        progress(f"loading {options.jobs:,} jobs")
        started = time.perf_counter()
        fixture = data.load(db_url, shape, seed=options.seed)
        load_seconds = time.perf_counter() - started
        plans_file = _use_plans_file(shape, workdir)
        deep_rows = min(options.deep, fixture.big_org_jobs - 1)
        deep = checks.deep_cursor(db_url, fixture.big_org, deep_rows)
        results = Results(
            options, command, env, shape, fixture.big_org_jobs, deep_rows, 0, fixture.loads,
            load_seconds,
        )  # fmt: skip
        progress("capturing the statements the API issues, and their plans")
        results.captured = _capture(db_url, fixture, deep)
        results.plans = checks.explain_all(db_url, results.captured)
        progress("timing requests one at a time, in process")
        results.service = checks.service_times(
            db_url, _requests(fixture, deep)[:3], rounds=options.service_rounds
        )
        log = workdir / "server.log"
        with server.running(
            db_url, plans_file=plans_file, workers=options.workers,
            pool_size=options.pool_size, log=log,
        ) as base:  # fmt: skip
            _load_phases(results, base, db_url, fixture, deep, workdir, progress)
            progress("paging through the big org")
            results.page_through = checks.page_through(
                base, db_url, fixture.big_org, fixture.api_keys[fixture.big_org],
                limit=options.page_limit,
            )  # fmt: skip
        results.environment.load_after = os.getloadavg()
        return results
    finally:
        if not options.keep:
            admin.drop_database(server_url, name)


def settle(db_url: str, *, timeout: float = 60.0) -> None:
    """Wait until no other session of the bench database is running a statement."""
    deadline = time.monotonic() + timeout
    quiet = 0
    with psycopg.connect(db_url, autocommit=True) as conn:
        while quiet < 3 and time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND state <> 'idle'"
            ).fetchone()
            quiet = quiet + 1 if row and row[0] == 0 else 0
            time.sleep(0.1)


def _requests(
    fx: data.Fixture, deep: str
) -> list[tuple[str, str, str, dict[str, Any] | None, dict[str, str]]]:
    big = {"Authorization": f"Bearer {fx.api_keys[fx.big_org]}"}
    sub = {"Authorization": f"Bearer {fx.api_keys[fx.submit_org]}"}
    body = json.loads(SUMMARY_BODY)
    jobs, sjobs = f"/v1/orgs/{fx.big_org}/jobs", f"/v1/orgs/{fx.submit_org}/jobs"
    keyed = {**sub, "Idempotency-Key": f"capture-{uuid.uuid4().hex[:8]}"}
    return [
        ("list page 1", "GET", f"{jobs}?limit=50", None, big),
        ("list deep", "GET", f"{jobs}?limit=50&after={deep}", None, big),
        ("submit", "POST", sjobs, body, sub),
        ("submit with Idempotency-Key", "POST", sjobs, body, keyed),
        ("submit replayed key", "POST", sjobs, body, keyed),
    ]


def _capture(db_url: str, fx: data.Fixture, deep: str) -> list[checks.CapturedRequest]:
    return checks.capture_requests(db_url, _requests(fx, deep))


def _load_phases(
    results: Results,
    base: str,
    db_url: str,
    fx: data.Fixture,
    deep: str,
    workdir: Path,
    progress: Callable[[str], None],
) -> None:
    o = results.options
    body = workdir / "summary.json"
    body.write_text(SUMMARY_BODY)
    big_token, sub_token = fx.api_keys[fx.big_org], fx.api_keys[fx.submit_org]
    list_url = f"{base}/v1/orgs/{fx.big_org}/jobs?limit=50"
    submit_url = f"{base}/v1/orgs/{fx.submit_org}/jobs"

    def timed(label: str, url: str, token: str, **kw: Any) -> wrk.WrkResult:
        progress(label)
        kw.setdefault("connections", o.connections)
        result = wrk.run(label, url, token=token, seconds=o.seconds, **kw)
        results.runs.append(result)
        # wrk stops with requests in flight; let the server finish them before the next run.
        settle(db_url)
        return result

    progress("warming up")
    wrk.run("warm-up", list_url, token=big_token, seconds=o.warmup_seconds, connections=4)
    wrk.run("warm-up", submit_url, token=sub_token, seconds=o.warmup_seconds, connections=4,
            post_body=body)  # fmt: skip
    settle(db_url)

    # Page 1 and the deep page take turns, so a burst of load from elsewhere hits both.
    for n in range(1, o.list_rounds + 1):
        suffix = f", round {n}" if o.list_rounds > 1 else ""
        timed(f"list page 1 (limit=50{suffix})", list_url, big_token)
        timed(f"list deep page (after {results.deep_rows:,} rows{suffix})",
              f"{list_url}&after={deep}", big_token)  # fmt: skip

    limit = 1_000_000_000
    before = checks.quota_state(db_url, fx.submit_org, fx.period, limit)
    plain = timed("submit (no Idempotency-Key)", submit_url, sub_token, post_body=body)
    tag = uuid.uuid4().hex[:8]
    unique = timed("submit (fresh Idempotency-Key each)", submit_url, sub_token, post_body=body,
                   keys="unique", tag=f"u{tag}")  # fmt: skip
    rows = checks.count_keyed_jobs(db_url, fx.submit_org, f"u{tag}")
    results.consistency.append(
        Consistency(
            "fresh keys: one job per accepted key",
            unique.count(202) <= rows <= unique.count(202) + o.connections,
            f"{unique.count(202)} answered 202, {rows} jobs with those keys "
            f"(up to {o.connections} more may have been in flight when wrk stopped)",
        )
    )
    replay = timed(f"submit (keys replayed, {o.replay_pool} distinct)", submit_url, sub_token,
                   post_body=body, keys="pool", tag=f"r{tag}", pool=o.replay_pool)  # fmt: skip
    rows = checks.count_keyed_jobs(db_url, fx.submit_org, f"r{tag}")
    distinct = min(o.replay_pool, replay.requests)
    # Answers not marked replayed are each key's first: one per job, less the firsts still
    # in flight when wrk stopped (up to one per connection; a short run on a busy machine
    # may not even get through the pool once).
    firsts = replay.count(202) - replay.replayed
    results.consistency.append(
        Consistency(
            "replayed keys: one job per distinct key, replays answered with it",
            distinct <= rows <= min(o.replay_pool, distinct + o.connections)
            and rows - o.connections <= firsts <= rows,
            f"{replay.requests} requests over {distinct} keys: {rows} jobs, "
            f"{replay.replayed} answers marked Idempotent-Replayed",
        )
    )
    after = checks.quota_state(db_url, fx.submit_org, fx.period, limit)
    results.consistency.append(
        Consistency(
            "submit org: counter == jobs this month",
            after.consistent
            and after.counter - before.counter == after.jobs_this_month - before.jobs_this_month,
            f"counter {before.counter} -> {after.counter}, "
            f"jobs {before.jobs_this_month} -> {after.jobs_this_month}",
        )
    )

    shape = results.shape
    headroom = o.edge_headroom or max(10, plain.count(202) // 3)
    results.edge_headroom = headroom
    data.prefill_edge(db_url, fx.edge_org, quota=shape.edge_quota, headroom=headroom)
    edge = timed(
        f"submit at the quota edge ({headroom:,} of {shape.edge_quota:,} left)",
        f"{base}/v1/orgs/{fx.edge_org}/jobs", fx.api_keys[fx.edge_org],
        connections=o.edge_connections, post_body=body,
    )  # fmt: skip
    state = checks.quota_state(db_url, fx.edge_org, fx.period, shape.edge_quota)
    reached = edge.count(402) > 0
    results.consistency.append(
        Consistency(
            "quota edge: counter == jobs this month, never above the limit",
            state.consistent and (not reached or state.counter == shape.edge_quota),
            f"limit {shape.edge_quota}, counter {state.counter}, jobs this month "
            f"{state.jobs_this_month}; {edge.count(202)} answered 202, {edge.count(402)} 402",
        )
    )
    bad = [r for r in results.runs for s in r.statuses if s >= 500] + [
        r for r in results.runs if r.socket_errors
    ]
    results.consistency.append(
        Consistency(
            "no 5xx, no socket errors",
            not bad,
            ", ".join(sorted({r.label for r in bad})) or "none",
        )
    )
