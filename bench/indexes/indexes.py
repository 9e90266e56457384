"""`make bench-indexes`: the seed's index migration, measured before and after.

One run, one database, the same data for both sides: create a fresh database, migrate
to 0607bc5b8536 (before the seed's indexes), load, VACUUM ANALYZE, measure; then upgrade
to head through `pressroom.db.migrations.upgrade`, timing every DDL statement of the
migration (the CONCURRENTLY builds), ANALYZE, measure again. Write cost is measured on
both sides the same way and rolled back, so it never changes the data being read.
"""

from __future__ import annotations

import os
import platform
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench.indexes import datagen, queries
from bench.indexes.measure import PatternResult, cross_check, measure
from pressroom.db import admin, migrations

BEFORE = "0607bc5b8536"
TABLES = (
    "organizations",
    "users",
    "memberships",
    "subscriptions",
    "usage_counters",
    "content_jobs",
    "content_artifacts",
    "billing_events",
)

Progress = Callable[[str], None]


@dataclass
class DdlTiming:
    statement: str
    seconds: float


@dataclass
class WriteCost:
    rows: int
    timings: list[float]  # seconds per repetition, sorted

    @property
    def seconds(self) -> float:
        return self.timings[len(self.timings) // 2]

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def us_per_row(self) -> float:
        return self.seconds * 1e6 / self.rows if self.rows else 0.0

    @property
    def best_us_per_row(self) -> float:
        """The least-disturbed repetition: on shared cores, the median carries others' load."""
        return self.timings[0] * 1e6 / self.rows if self.rows else 0.0


@dataclass
class Environment:
    server_label: str
    server_version: str
    settings: dict[str, str]
    cpus: int
    memory_gib: float
    cpu_model: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass
class BenchResult:
    scale: float
    runs: int
    seed: int
    command: str
    sizes: datagen.Sizes
    environment: Environment
    loads: list[datagen.TableLoad]
    keyset_depth: int
    results: dict[str, dict[str, PatternResult]] = field(default_factory=dict)
    cross_checks: dict[str, str] = field(default_factory=dict)
    ddl: list[DdlTiming] = field(default_factory=list)
    migration_seconds: float = 0.0
    index_sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    index_tables: dict[str, str] = field(default_factory=dict)
    writes: dict[str, WriteCost] = field(default_factory=dict)


def _meminfo_gib() -> float:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(url: str, server_label: str) -> Environment:
    names = (
        "shared_buffers",
        "work_mem",
        "effective_cache_size",
        "random_page_cost",
        "max_parallel_workers_per_gather",
        "jit",
        "fsync",
        "synchronous_commit",
    )
    with psycopg.connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        settings = {n: str(r[0]) for n in names if (r := conn.execute(f"SHOW {n}").fetchone())}
    return Environment(
        server_label=server_label,
        server_version=str(version[0]) if version else "?",
        settings=settings,
        cpus=os.cpu_count() or 0,
        memory_gib=_meminfo_gib(),
        cpu_model=_cpu_model(),
        load_before=os.getloadavg(),
    )


@contextmanager
def _ddl_timer(out: list[DdlTiming]) -> Iterator[None]:
    """Time each DDL statement Alembic sends, through SQLAlchemy's cursor events."""

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        lines = [line for line in statement.splitlines() if not line.startswith("--")]
        text = " ".join(" ".join(lines).split())
        if text.startswith(("CREATE", "ALTER TABLE", "DROP INDEX")):
            out.append(DdlTiming(text, time.perf_counter() - conn.info["bench_started"]))

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "after_cursor_execute", after)


def _index_sizes(url: str) -> tuple[dict[str, int], dict[str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname, t.relname, pg_relation_size(c.oid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid "
            "WHERE t.relname = ANY(%s) ORDER BY t.relname, c.relname",
            (list(TABLES),),
        ).fetchall()
    return {r[0]: int(r[2]) for r in rows}, {r[0]: r[1] for r in rows}


def write_cost(url: str, orgs: list[Any], *, rows: int, seed: int, repeats: int = 5) -> WriteCost:
    """Single-row INSERTs into content_jobs (pipelined by executemany), rolled back."""
    rng = random.Random(seed)
    batch = [
        (uuid.UUID(int=rng.getrandbits(128)), rng.choice(orgs), "article", '{"prompt": "x"}')
        for _ in range(rows)
    ]
    timings = []
    with psycopg.connect(url, prepare_threshold=None) as conn:
        for _ in range(repeats):
            with conn.transaction(force_rollback=True), conn.cursor() as cur:
                started = time.perf_counter()
                cur.executemany(
                    "INSERT INTO content_jobs (id, org_id, kind, input) VALUES (%s, %s, %s, %s)",
                    batch,
                )
                timings.append(time.perf_counter() - started)
    with psycopg.connect(url, autocommit=True) as conn:
        # Rolled-back rows are dead tuples and index entries until vacuumed.
        conn.execute("VACUUM content_jobs")
    return WriteCost(rows, sorted(timings))


def _measure_phase(
    url: str,
    phase: str,
    params: dict[str, list[queries.Params]],
    *,
    runs: int,
    warmup: int,
    progress: Progress,
) -> tuple[dict[str, PatternResult], str]:
    out: dict[str, PatternResult] = {}
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        for pattern in queries.PATTERNS:
            progress(f"{phase}: {pattern.label}")
            out[pattern.key] = measure(
                conn, pattern, phase, params[pattern.params], runs=runs, warmup=warmup
            )
        check = cross_check(conn, queries.CROSS_CHECKS[phase], params["event"][0])
    return out, check


def run(
    server_url: str,
    *,
    scale: float,
    runs: int,
    seed: int = 42,
    database: str = "pressroom_bench",
    server_label: str = "",
    command: str = "",
    warmup: int = 3,
    write_rows: int | None = None,
    progress: Progress = lambda _: None,
) -> BenchResult:
    sizes = datagen.Sizes.for_scale(scale)
    progress(f"creating database {database}")
    admin.drop_database(server_url, database)
    url = admin.create_database(server_url, database)
    env = environment(url, server_label)
    migrations.upgrade(url, BEFORE)
    progress("loading data (server-side generate_series)")
    loads = datagen.load(url, sizes, seed=seed)
    result = BenchResult(scale, runs, seed, command, sizes, env, loads, queries.keyset_depth(sizes))
    params = queries.sample_params(url, sizes, k=max(runs, 1), seed=seed)
    write_orgs = [p["org"] for p in params["org"] + params["big_org"]]
    n_writes = write_rows or max(200, round(20_000 * min(scale, 1.0)))

    before_sizes, tables = _index_sizes(url)
    results, result.cross_checks["before"] = _measure_phase(
        url, "before", params, runs=runs, warmup=warmup, progress=progress
    )
    progress("before: write cost")
    result.writes["before"] = write_cost(url, write_orgs, rows=n_writes, seed=seed)

    progress("alembic upgrade head (timing each index build)")
    started = time.perf_counter()
    with _ddl_timer(result.ddl):
        migrations.upgrade(url, "head")
    result.migration_seconds = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    after_sizes, after_tables = _index_sizes(url)

    after, result.cross_checks["after"] = _measure_phase(
        url, "after", params, runs=runs, warmup=warmup, progress=progress
    )
    progress("after: write cost")
    result.writes["after"] = write_cost(url, write_orgs, rows=n_writes, seed=seed)

    result.results = {k: {"before": results[k], "after": after[k]} for k in results}
    result.index_sizes = {"before": before_sizes, "after": after_sizes}
    result.index_tables = {**tables, **after_tables}
    env.load_after = os.getloadavg()
    return result
