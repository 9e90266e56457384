"""Time one query pattern: server-side execution (EXPLAIN ANALYZE) and client round trip.

The timed EXPLAINs use `TIMING OFF`: per-node clock reads add tens of nanoseconds per row
and would inflate exactly the row-heavy "before" plans whose speedup we report. One
extra fully-timed `EXPLAIN (ANALYZE, BUFFERS)` per phase is kept as the plan to read.
Statements are never prepared (`prepare_threshold=None`): every run gets a custom plan
for its own parameter values.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import psycopg

from bench.indexes.queries import Params, Pattern

SCAN_NODES = {
    "Seq Scan",
    "Index Scan",
    "Index Only Scan",
    "Bitmap Index Scan",
    "Bitmap Heap Scan",
}


@dataclass
class PlanShape:
    summary: str  # pre-order node list, the top node first
    indexes: frozenset[str]
    seq_scans: frozenset[str]  # relations read by a Seq Scan
    incremental_sort: bool


@dataclass
class PatternResult:
    key: str
    phase: str
    runs: int = 0
    exec_ms: list[float] = field(default_factory=list)
    client_ms: list[float] = field(default_factory=list)
    buffers: list[int] = field(default_factory=list)
    shapes: list[PlanShape] = field(default_factory=list)
    plan_text: str = ""
    error: str | None = None

    @property
    def p50(self) -> float:
        return percentile(self.exec_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.exec_ms, 95)

    @property
    def client_p50(self) -> float:
        return percentile(self.client_ms, 50)

    @property
    def client_p95(self) -> float:
        return percentile(self.client_ms, 95)

    @property
    def buffers_p50(self) -> float:
        return statistics.median(self.buffers) if self.buffers else math.nan

    @property
    def shape(self) -> PlanShape | None:
        """The most frequent plan over the timed runs."""
        if not self.shapes:
            return None
        common, _ = Counter(s.summary for s in self.shapes).most_common(1)[0]
        return next(s for s in self.shapes if s.summary == common)

    @property
    def any_seq_scan(self) -> bool:
        return any(s.seq_scans for s in self.shapes)

    @property
    def any_incremental_sort(self) -> bool:
        return any(s.incremental_sort for s in self.shapes)

    @property
    def indexes(self) -> frozenset[str]:
        return frozenset().union(*(s.indexes for s in self.shapes))


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 25 runs is the 24th smallest)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def _label(node: dict[str, Any]) -> str:
    kind = str(node["Node Type"])
    if kind == "ModifyTable":
        arbiters = node.get("Conflict Arbiter Indexes") or []
        label = f"{node.get('Operation', '')}"
        return f"{label} (arbiter {', '.join(arbiters)})" if arbiters else label
    if "Index Name" in node:
        return f"{kind} ({node['Index Name']})"
    if kind == "Seq Scan":
        return f"Seq Scan ({node.get('Relation Name', '?')})"
    if kind == "Aggregate":
        strategy = {"Hashed": "HashAggregate", "Sorted": "GroupAggregate"}
        return strategy.get(str(node.get("Strategy")), "Aggregate")
    return kind


def plan_shape(plan: dict[str, Any]) -> PlanShape:
    labels: list[str] = []
    indexes: set[str] = set()
    seqs: set[str] = set()
    incremental = False
    stack = [plan]
    while stack:
        node = stack.pop()
        labels.append(_label(node))
        if "Index Name" in node:
            indexes.add(str(node["Index Name"]))
        for arbiter in node.get("Conflict Arbiter Indexes") or []:
            indexes.add(str(arbiter))
        if node["Node Type"] == "Seq Scan":
            seqs.add(str(node.get("Relation Name")))
        incremental = incremental or node["Node Type"] == "Incremental Sort"
        stack.extend(reversed(node.get("Plans", [])))
    # Gather/Limit wrappers are kept: they are part of what the server runs.
    return PlanShape(" > ".join(labels), frozenset(indexes), frozenset(seqs), incremental)


def _explain(conn: psycopg.Connection[Any], sql: str, params: Params) -> dict[str, Any]:
    row = conn.execute(
        "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) " + sql, params
    ).fetchone()
    assert row is not None
    document: dict[str, Any] = row[0][0]
    return document


def _client(conn: psycopg.Connection[Any], sql: str, params: Params) -> float:
    started = time.perf_counter()
    cur = conn.execute(sql, params)
    if cur.description is not None:
        cur.fetchall()
    return (time.perf_counter() - started) * 1000


def measure(
    conn: psycopg.Connection[Any],
    pattern: Pattern,
    phase: str,
    params: list[Params],
    *,
    runs: int,
    warmup: int,
) -> PatternResult:
    result = PatternResult(pattern.key, phase)
    sql = pattern.statement(phase)
    if not params:
        result.error = "no parameter values in this data"
        return result
    try:
        # Every parameter set once, so neither phase pays first-touch reads the other
        # phase already paid (both phases use the same values).
        for i in range(len(params) + warmup):
            _client(conn, sql, params[i % len(params)])
        for i in range(runs):
            p = params[i % len(params)]
            document = _explain(conn, sql, p)
            top = document["Plan"]
            result.exec_ms.append(float(document["Execution Time"]))
            result.buffers.append(int(top["Shared Hit Blocks"]) + int(top["Shared Read Blocks"]))
            result.shapes.append(plan_shape(top))
            result.client_ms.append(_client(conn, sql, p))
        result.runs = runs
        rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params[0]).fetchall()
        result.plan_text = "\n".join(str(r[0]) for r in rows)
    except psycopg.Error as exc:
        result.error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return result


def cross_check(conn: psycopg.Connection[Any], sql: str, params: Params) -> str:
    """Run a statement expected to fail; return the server's error (or 'succeeded')."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(sql, params)
    except psycopg.Error as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    return "succeeded"
