"""What must hold however fast it went: the quota counter, idempotency, a full page-through
equal to SQL's order, and the plans of the statements the API really issues."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import event

from pressroom.app import create_app
from pressroom.db.session import make_engine
from pressroom.pagination import Cursor

LIST_INDEX = "idx_content_jobs_org_created_desc"


def deep_cursor(db_url: str, org_id: uuid.UUID, depth: int) -> str:
    """The cursor the API returns after `depth` rows of the org (the next page starts at
    row depth + 1), computed from SQL rather than by paging there."""
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT created_at, id FROM content_jobs WHERE org_id = %s"
            " ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1",
            (org_id, depth - 1),
        ).fetchone()
    if row is None:
        raise ValueError(f"the org has fewer than {depth} jobs")
    return Cursor(row[0], row[1]).encode()


@dataclass
class PageThrough:
    pages: int
    rows: int
    seconds: float
    matches: bool
    first_difference: int | None

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


def page_through(
    base_url: str, db_url: str, org_id: uuid.UUID, token: str, *, limit: int
) -> PageThrough:
    """Follow next_cursor from the newest job to the last one; compare with SQL's order."""
    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    started = time.perf_counter()
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as client:
        while True:
            params: dict[str, Any] = {"limit": limit}
            if cursor:
                params["after"] = cursor
            response = client.get(f"/v1/orgs/{org_id}/jobs", params=params, timeout=60)
            response.raise_for_status()
            page = response.json()
            pages += 1
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    seconds = time.perf_counter() - started
    with psycopg.connect(db_url) as conn:
        expected = [
            str(r[0])
            for r in conn.execute(
                "SELECT id FROM content_jobs WHERE org_id = %s ORDER BY created_at DESC, id DESC",
                (org_id,),
            )
        ]
    diff = next((i for i, (a, b) in enumerate(zip(seen, expected, strict=False)) if a != b), None)
    if diff is None and len(seen) != len(expected):
        diff = min(len(seen), len(expected))
    return PageThrough(pages, len(seen), seconds, diff is None, diff)


@dataclass
class QuotaState:
    counter: int
    jobs_this_month: int
    limit: int

    @property
    def consistent(self) -> bool:
        return self.counter == self.jobs_this_month <= self.limit


def quota_state(db_url: str, org_id: uuid.UUID, period: date, limit: int) -> QuotaState:
    """This month's counter against the jobs that hold a unit of it (none are refunded:
    nothing is canceled during the bench)."""
    with psycopg.connect(db_url) as conn:
        counter = conn.execute(
            "SELECT coalesce(max(jobs_used), 0) FROM usage_counters"
            " WHERE org_id = %s AND period_month = %s",
            (org_id, period),
        ).fetchone()
        jobs = conn.execute(
            "SELECT count(*) FROM content_jobs WHERE org_id = %s AND quota_period = %s"
            " AND quota_refunded_at IS NULL",
            (org_id, period),
        ).fetchone()
    assert counter is not None
    assert jobs is not None
    return QuotaState(int(counter[0]), int(jobs[0]), limit)


def count_keyed_jobs(db_url: str, org_id: uuid.UUID, tag: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM content_jobs WHERE org_id = %s AND idempotency_key LIKE %s",
            (org_id, tag + "-%"),
        ).fetchone()
    assert row is not None
    return int(row[0])


# --- the plans of the statements the API issues -------------------------------------------


@dataclass
class Statement:
    sql: str
    params: dict[str, Any]


@dataclass
class CapturedRequest:
    label: str
    status: int
    statements: list[Statement] = field(default_factory=list)


@dataclass
class PlanCheck:
    label: str
    statement: str
    plan_text: str
    indexes: set[str]
    seq_scans: set[str]
    full_sort: bool
    execution_ms: float | None = None
    generic_plan_text: str | None = None


def capture_requests(
    db_url: str, requests: list[tuple[str, str, str, dict[str, Any] | None, dict[str, str]]]
) -> list[CapturedRequest]:
    """Run requests (label, method, path, json, headers) through the real app in process,
    recording every statement SQLAlchemy and the async pool send (BEGIN and COMMIT are not
    recorded: SQLAlchemy's are protocol-level, the pool's are left out)."""
    engine = make_engine(db_url, pool_size=2)
    current: list[Statement] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        current.append(Statement(statement, dict(params) if params else {}))

    def record_pooled(statement: str, params: dict[str, Any]) -> None:
        if statement not in ("BEGIN", "COMMIT", "ROLLBACK"):
            current.append(Statement(statement, params))

    event.listen(engine, "before_cursor_execute", record)
    app = create_app(engine)
    app.state.async_pool.on_statement.append(record_pooled)
    out: list[CapturedRequest] = []
    try:
        with TestClient(app) as client:
            for label, method, path, body, headers in requests:
                current.clear()
                response = client.request(method, path, json=body, headers=headers)
                out.append(CapturedRequest(label, response.status_code, list(current)))
    finally:
        engine.dispose()
    return out


@dataclass
class ServiceTime:
    label: str
    best_ms: float
    median_ms: float


def service_times(
    db_url: str,
    requests: list[tuple[str, str, str, dict[str, Any] | None, dict[str, str]]],
    *,
    rounds: int = 10,
    per_round: int = 20,
) -> list[ServiceTime]:
    """Milliseconds per request, one at a time through the real app in process (no network,
    no concurrency): what a request costs the server. Scenarios take turns round by round,
    so a burst of load from elsewhere hits them alike; best and median of the rounds."""
    engine = make_engine(db_url, pool_size=2)
    samples: dict[str, list[float]] = {label: [] for label, *_ in requests}
    try:
        with TestClient(create_app(engine)) as client:
            for _ in range(rounds + 1):  # the first round warms up and is dropped
                for label, method, path, body, headers in requests:
                    started = time.perf_counter()
                    for _ in range(per_round):
                        response = client.request(method, path, json=body, headers=headers)
                        if response.status_code >= 300:
                            raise RuntimeError(f"{label}: {response.status_code} {response.text}")
                    samples[label].append((time.perf_counter() - started) / per_round * 1000)
    finally:
        engine.dispose()
    return [
        ServiceTime(label, min(v[1:]), sorted(v[1:])[len(v[1:]) // 2])
        for label, v in samples.items()
    ]


def _walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [node]
    for child in node.get("Plans", []):
        nodes += _walk(child)
    return nodes


def _numbered(sql: str) -> str:
    """`%(name)s` placeholders as `$n`, for EXPLAIN (GENERIC_PLAN)."""
    names: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        return f"${names.setdefault(match.group(1), len(names) + 1)}"

    return re.sub(r"%\((\w+)\)s", number, sql)


def explain(conn: psycopg.Connection[Any], label: str, stmt: Statement) -> PlanCheck:
    """EXPLAIN ANALYZE for reads (so the figures are real), plain EXPLAIN for writes (so
    nothing is written twice); plus the generic plan a prepared statement may settle on."""
    is_read = stmt.sql.lstrip().upper().startswith("SELECT") and "pg_notify" not in stmt.sql
    options = "ANALYZE, BUFFERS, FORMAT JSON" if is_read else "FORMAT JSON"
    row = conn.execute(f"EXPLAIN ({options}) {stmt.sql}", stmt.params).fetchone()
    assert row is not None
    doc = row[0][0]
    options_text = "ANALYZE, BUFFERS" if is_read else "COSTS ON"
    text = "\n".join(
        r[0] for r in conn.execute(f"EXPLAIN ({options_text}) {stmt.sql}", stmt.params)
    )
    nodes = _walk(doc["Plan"])
    check = PlanCheck(
        label=label,
        statement=stmt.sql,
        plan_text=text,
        indexes={str(n["Index Name"]) for n in nodes if "Index Name" in n},
        seq_scans={str(n.get("Relation Name")) for n in nodes if n["Node Type"] == "Seq Scan"},
        full_sort=any(n["Node Type"] == "Sort" for n in nodes),
        execution_ms=doc.get("Execution Time"),
    )
    if stmt.params and conn.info.server_version >= 160000:
        try:
            generic = conn.execute(f"EXPLAIN (GENERIC_PLAN) {_numbered(stmt.sql)}")
            check.generic_plan_text = "\n".join(r[0] for r in generic)
        except psycopg.Error as exc:  # e.g. a parameter whose type only its value gives
            check.generic_plan_text = f"(no generic plan: {exc.diag.message_primary})"
    return check


def explain_all(db_url: str, captured: list[CapturedRequest]) -> list[PlanCheck]:
    checks: list[PlanCheck] = []
    with psycopg.connect(db_url, autocommit=True) as conn:
        for request in captured:
            for stmt in request.statements:
                checks.append(explain(conn, request.label, stmt))
    return checks
