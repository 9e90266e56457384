"""Render a `BenchResult`: a rich table, a markdown results file, the docs section."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.indexes import markers
from bench.indexes.indexes import BenchResult
from bench.indexes.measure import PatternResult
from bench.indexes.queries import PATTERNS, Pattern

START, END = markers.markers("indexes")


def ms(value: float) -> str:
    if value != value:  # NaN
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def speedup(before: PatternResult, after: PatternResult) -> float:
    if before.error or after.error or not after.p50:
        return float("nan")
    return before.p50 / after.p50


def fmt_speedup(value: float) -> str:
    if value != value:
        return "-"
    return f"{value:.1f}x" if value < 10 else f"{value:,.0f}x"


def verdict(pattern: Pattern, before: PatternResult, after: PatternResult) -> str:
    if after.error:
        return "error"
    if after.any_seq_scan:
        return "Seq Scan remains"
    if pattern.seed_top is None:
        return "n/a"
    if speedup(before, after) >= pattern.seed_top:
        return "at/above top"
    if not before.any_seq_scan and before.indexes:
        return "below: already indexed before"
    return "below range"


def plan_of(result: PatternResult) -> str:
    shape = result.shape
    if result.error:
        return result.error
    return shape.summary if shape else "-"


def _rows(result: BenchResult) -> list[tuple[Pattern, PatternResult, PatternResult]]:
    return [
        (p, result.results[p.key]["before"], result.results[p.key]["after"])
        for p in PATTERNS
        if p.key in result.results
    ]


def rich_table(result: BenchResult) -> Table:
    table = Table(
        title=f"Index benchmark, scale {result.scale:g}, {result.runs} runs "
        f"(server-side ms, EXPLAIN ANALYZE)",
        show_lines=True,
    )
    for name in (
        "pattern",
        "seed",
        "before p50/p95",
        "after p50/p95",
        "speedup",
        "client p50 b/a",
        "buffers b/a",
        "plan after",
        "verdict",
    ):
        table.add_column(name, overflow="fold")
    for p, b, a in _rows(result):
        table.add_row(
            p.label,
            p.seed_expected,
            f"{ms(b.p50)} / {ms(b.p95)}" if not b.error else b.error,
            f"{ms(a.p50)} / {ms(a.p95)}" if not a.error else a.error,
            fmt_speedup(speedup(b, a)),
            f"{ms(b.client_p50)} / {ms(a.client_p50)}",
            f"{b.buffers_p50:,.0f} / {a.buffers_p50:,.0f}",
            plan_of(a),
            verdict(p, b, a),
        )
    return table


def print_report(result: BenchResult, console: Console) -> None:
    console.print(rich_table(result))
    for line in findings(result):
        console.print(f"- {line}", markup=False)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:,.1f} MiB"


_CREATE = re.compile(r"CREATE (?:UNIQUE )?INDEX CONCURRENTLY (?:IF NOT EXISTS )?(\w+) ON (\w+)")


def index_builds(result: BenchResult) -> list[tuple[str, str, float, int | None]]:
    """(index or statement, table, seconds, size at head) for each migration DDL."""
    after = result.index_sizes.get("after", {})
    rows = []
    for ddl in result.ddl:
        match = _CREATE.match(ddl.statement)
        if match:
            rows.append((match[1], match[2], ddl.seconds, after.get(match[1])))
        else:
            rows.append((ddl.statement[:90], "", ddl.seconds, None))
    return rows


def _rebuilt(result: BenchResult, old: str, after: PatternResult) -> str:
    """How the old constraint's index (grown by inserts) compares with the new (sorted) one."""
    before_size = result.index_sizes.get("before", {}).get(old)
    new = next(iter(sorted(after.indexes)), "")
    after_size = result.index_sizes.get("after", {}).get(new)
    if not before_size or not after_size:
        return ""
    return (
        f", except that the new one is freshly built by sort ({_size(before_size)} -> "
        f"{_size(after_size)}): any difference beyond timing noise is what a REINDEX of "
        "the old one would give"
    )


def findings(result: BenchResult) -> list[str]:
    r = result.results
    out: list[str] = []

    def pair(key: str) -> tuple[PatternResult, PatternResult]:
        return r[key]["before"], r[key]["after"]

    for key, old in (
        ("membership", "uq_memberships_org_id_user_id"),
        ("usage", "uq_usage_counters_org_id_period_month"),
    ):
        b, a = pair(key)
        same = b.buffers_p50 == a.buffers_p50
        out.append(
            f"{key}: before, {', '.join(sorted(b.indexes)) or 'no index'} (the unique "
            f"constraint {old}) already answered it; after, "
            f"{', '.join(sorted(a.indexes))}: {ms(b.p50)} -> {ms(a.p50)} ms "
            f"({fmt_speedup(speedup(b, a))}), "
            + (
                f"same plan shape and {b.buffers_p50:,.0f} buffers both times. "
                if same
                else f"{b.buffers_p50:,.0f} -> {a.buffers_p50:,.0f} buffers. "
            )
            + "The seed's 10-100x was measured against an index-less table that never "
            "existed: 0607bc5b8537 replaces one unique index with an identical one"
            + _rebuilt(result, old, a)
            + "."
        )
    b, a = pair("subscription")
    out.append(
        f"subscription: {plan_of(b)} -> {plan_of(a)}; {ms(b.p50)} ms -> {ms(a.p50)} ms "
        f"({fmt_speedup(speedup(b, a))})."
    )
    b1, a1 = pair("newest_big")
    bt, at = pair("newest_typical")
    bk, ak = pair("keyset_deep")
    out.append(
        f"job listing before: every page is {plan_of(b1)} — {ms(bt.p50)} / {ms(b1.p50)} / "
        f"{ms(bk.p50)} ms (typical org / big org page 1 / deep page), whatever the org's "
        "size; speedups "
        f"{fmt_speedup(speedup(bt, at))} / {fmt_speedup(speedup(b1, a1))} / "
        f"{fmt_speedup(speedup(bk, ak))}."
    )
    ratio = ak.p50 / a1.p50 if a1.p50 else float("nan")
    out.append(
        f"job listing: newest 50 p50 after = {ms(at.p50)} ms (typical org), "
        f"{ms(a1.p50)} ms (big org) [target <= 1 ms: "
        f"{'met' if max(at.p50, a1.p50) <= 1 else 'NOT met'}]; the keyset page "
        f"{result.keyset_depth:,} pages deep (after {result.keyset_depth * 50:,} rows of a "
        f"big org) = {ms(ak.p50)} ms, "
        f"{ratio:.2f}x page 1 [target <= 2x: {'met' if ratio <= 2 else 'NOT met'}]; "
        f"Incremental Sort on id for ties: "
        f"{'yes' if ak.any_incremental_sort and a1.any_incremental_sort else 'no'}."
    )
    b, a = pair("queue_head")
    out.append(
        f"queue head: {plan_of(a)}, {ms(a.p50)} ms ({fmt_speedup(speedup(b, a))}). A plain "
        "index on a 5-value status column still fetches every queued row and sorts; the "
        "queue's partial index idx_content_jobs_queue (org_id, priority DESC, run_after, id) "
        "WHERE status = 'queued' holds only queued rows, so even this global query reads "
        "no finished job; the workers' claim reads it per org (a skip scan, then the head "
        "of each org), never the whole queue."
    )
    b, a = pair("counts_all")
    out.append(
        f"counts by status, all orgs: {plan_of(b)} -> {plan_of(a)} "
        f"({fmt_speedup(speedup(b, a))}): counting every row still reads every index "
        "entry, and no status index makes that a lookup. One org's counts (the dashboard's "
        "first figure) are kept instead since 0607bc5b8549: job_status_counts, delta rows "
        "a trigger appends per statement and the worker folds to one per status, so the "
        f"read is a few rows by idx_job_status_counts_org at any org size: "
        f"{ms(pair('counts_org')[1].p50)} ms for a typical org "
        f"({fmt_speedup(speedup(*pair('counts_org')))}) and "
        f"{ms(pair('counts_big')[1].p50)} ms for the big one, 6% of the table "
        f"({fmt_speedup(speedup(*pair('counts_big')))}), at one small insert per "
        "statement that changes a status."
    )
    b, a = pair("dedupe")
    out.append(
        f"webhook dedupe: before ON CONFLICT (provider_event_id) -> {plan_of(b)}; after "
        f"ON CONFLICT (provider, provider_event_id) -> {plan_of(a)}; "
        f"{ms(b.p50)} -> {ms(a.p50)} ms. The pair target before head fails: "
        f"{result.cross_checks.get('before', '?')}; the old single-column target at head "
        f"fails: {result.cross_checks.get('after', '?')}. The change is correctness "
        "(uniqueness per provider), not speed."
    )
    wb, wa = result.writes.get("before"), result.writes.get("after")
    if wb and wa:
        slower = (wa.us_per_row / wb.us_per_row - 1) * 100 if wb.us_per_row else 0.0
        best = (wa.best_us_per_row / wb.best_us_per_row - 1) * 100 if wb.timings[0] else 0.0
        out.append(
            f"write cost: {wb.rows:,} single-row INSERTs into content_jobs (pipelined, one "
            f"transaction, rolled back; {len(wb.timings)} repetitions): median "
            f"{wb.rows_per_s:,.0f} rows/s before, {wa.rows_per_s:,.0f} rows/s after "
            f"({wb.us_per_row:.1f} -> {wa.us_per_row:.1f} us/row, {slower:+.0f}%); best "
            f"repetition {wb.best_us_per_row:.1f} -> {wa.best_us_per_row:.1f} us/row "
            f"({best:+.0f}%). Each insert (status queued) now also maintains "
            "idx_content_jobs_org_created_desc (a random leaf per org), "
            "idx_content_jobs_status and the queue's partial idx_content_jobs_queue, and "
            "its statement appends one row to job_status_counts (the kept counts, "
            "0607bc5b8549): a multi-row insert appends one per org and status."
        )
    out.append(
        f"migration to head: {result.migration_seconds:.1f} s in total for the "
        f"concurrent builds and constraint swaps on this data."
    )
    return out


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _environment(result: BenchResult) -> str:
    e = result.environment
    s = result.sizes
    settings = ", ".join(f"{k}={v}" for k, v in e.settings.items())
    return (
        f"- Command: `{result.command}` (seed {result.seed}, {result.runs} timed runs per "
        f"pattern after warm-up)\n"
        f"- Server: {e.server_label}, PostgreSQL {e.server_version} ({settings})\n"
        f"- Machine: {e.cpus} cores ({e.cpu_model}), {e.memory_gib:.0f} GiB memory; "
        f"load average {e.load_before[0]:.2f} at start, {e.load_after[0]:.2f} at end "
        "(cores shared with other work: read p95 with that in mind)\n"
        f"- Data (scale {result.scale:g}): {s.organizations:,} organizations, "
        f"{s.users:,} users, {_loaded(result, 'memberships')} memberships, "
        f"{_loaded(result, 'subscriptions')} subscriptions, "
        f"{_loaded(result, 'usage_counters')} usage counters, "
        f"{_loaded(result, 'content_jobs')} content jobs ({4} big orgs own 25%), "
        f"{_loaded(result, 'content_artifacts')} artifacts, "
        f"{_loaded(result, 'billing_events')} billing events"
    )


def _loaded(result: BenchResult, table: str) -> str:
    return next((f"{x.rows:,}" for x in result.loads if x.table == table), "?")


def summary_markdown(result: BenchResult, results_file: str | None) -> str:
    rows = []
    for p, b, a in _rows(result):
        rows.append(
            [
                p.label,
                p.seed_row or "(not in the seed)",
                p.seed_expected,
                fmt_speedup(speedup(b, a)),
                f"{ms(b.p50)} / {ms(b.p95)}" if not b.error else f"error: {b.error}",
                f"{ms(a.p50)} / {ms(a.p95)}" if not a.error else f"error: {a.error}",
                f"{ms(b.client_p50)} / {ms(a.client_p50)}",
                f"{b.buffers_p50:,.0f} / {a.buffers_p50:,.0f}",
                f"`{plan_of(a)}`",
                "yes" if a.any_seq_scan else "no",
                verdict(p, b, a),
            ]
        )
    table = _table(
        [
            "Query",
            "Seed pattern",
            "Expected",
            "Measured (p50)",
            "Before p50 / p95 ms",
            "After p50 / p95 ms",
            "Client p50 ms before / after",
            "Buffers before / after",
            "Plan after (top node first)",
            "Seq Scan after",
            "Verdict",
        ],
        rows,
    )
    builds = _table(
        ["Migration step", "Table", "Seconds", "Index size"],
        [
            [f"`{name}`", tbl, f"{sec:.2f}", _size(size) if size is not None else ""]
            for name, tbl, sec, size in index_builds(result)
        ],
    )
    parts = [
        f"### Measured (scale {result.scale:g})",
        _environment(result),
        "Times are server-side execution (EXPLAIN ANALYZE, TIMING OFF) in ms; buffers are "
        "shared blocks hit+read (median); speedup is before p50 / after p50.",
        table,
        "#### What the numbers say",
        "\n".join(f"- {line}" for line in findings(result)),
        "#### Index builds (the migration, CONCURRENTLY)",
        builds,
    ]
    if results_file:
        parts.append(f"Plans, index sizes and load times: [{results_file}]({results_file}).")
    return "\n\n".join(parts)


def results_markdown(result: BenchResult) -> str:
    sizes = _table(
        ["Index", "Table", "Before", "After"],
        [
            [
                f"`{name}`",
                result.index_tables.get(name, ""),
                _size(result.index_sizes["before"][name])
                if name in result.index_sizes["before"]
                else "-",
                _size(result.index_sizes["after"][name])
                if name in result.index_sizes["after"]
                else "-",
            ]
            for name in sorted(
                set(result.index_sizes["before"]) | set(result.index_sizes["after"]),
                key=lambda n: (result.index_tables.get(n, ""), n),
            )
        ],
    )
    loads = _table(
        ["Step", "Rows", "Seconds"],
        [[x.table, f"{x.rows:,}", f"{x.seconds:.1f}"] for x in result.loads],
    )
    plans = []
    for p, b, a in _rows(result):
        plans.append(f"#### {p.label}\n\n```sql\n{p.statement('after')}\n```")
        for phase, res in (("before", b), ("after", a)):
            body = res.plan_text or res.error or "-"
            plans.append(f"{phase} (first parameter set):\n\n```\n{body}\n```")
    return "\n\n".join(
        [
            f"# Index benchmark results, scale {result.scale:g}",
            "Generated by `make bench-indexes`; do not edit by hand.",
            summary_markdown(result, None).replace("### Measured", "## Measured", 1),
            "## Index sizes",
            sizes,
            "## Data load",
            loads,
            "## Plans (EXPLAIN ANALYZE, BUFFERS)",
            *plans,
        ]
    )


def write_between_markers(path: Path, content: str) -> None:
    markers.write_between_markers(path, "indexes", content, title="Database indexes")
