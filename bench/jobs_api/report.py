"""The results as text: the console summary and the Markdown section of docs/jobs.md."""

from __future__ import annotations

from pathlib import Path

from bench.indexes import markers
from bench.jobs_api.checks import LIST_INDEX, PlanCheck
from bench.jobs_api.run import Results

START, END = markers.markers("jobs-api")


def _answers(statuses: dict[int, int]) -> str:
    return ", ".join(f"{s}: {n:,}" for s, n in sorted(statuses.items()))


def _statements(results: Results) -> list[str]:
    lines = []
    for req in results.captured:
        kinds = []
        for stmt in req.statements:
            sql = " ".join(stmt.sql.split())
            words = sql.split()
            verb = words[0] if words else "?"
            table = next(
                (words[i + 1] for i, w in enumerate(words[:-1]) if w in ("FROM", "INTO", "UPDATE")),
                "",
            )
            if "AS entry JOIN LATERAL" in sql:  # db.tenancy.entered: role, duty, credential
                verb, table = "access", "(role, duty, credential, scope)"
            elif "pg_notify" in sql:
                verb, table = (
                    ("INSERT content_jobs + NOTIFY", "") if "INSERT" in sql else ("NOTIFY", "")
                )
            elif "INSERT INTO usage_counters" in sql:
                verb, table = "upsert", "usage_counters"
            kinds.append(f"{verb} {table}".strip())
        lines.append(f"| {req.label} | {req.status} | {len(req.statements)} | {'; '.join(kinds)} |")
    return lines


def _plan(p: PlanCheck) -> str:
    verdict = (
        f"uses `{LIST_INDEX}`: {'yes' if LIST_INDEX in p.indexes else 'NO'}; "
        f"Seq Scan: {', '.join(sorted(p.seq_scans)) or 'none'}; "
        f"full Sort: {'YES' if p.full_sort else 'none'}"
    )
    out = [f"**{p.label}** — {verdict}", "", "```", p.plan_text, "```"]
    if p.generic_plan_text:
        out += ["", "Generic plan (what a prepared statement may reuse):", "", "```"]
        out += [p.generic_plan_text, "```"]
    return "\n".join(out)


def markdown(results: Results) -> str:
    o, env = results.options, results.environment
    load_b = " ".join(f"{x:.2f}" for x in env.load_before)
    load_a = " ".join(f"{x:.2f}" for x in env.load_after)
    lines = [
        f"Command: `{results.command}` — {env.server_label}, PostgreSQL {env.server_version}.",
        "",
        f"Machine: {env.cpu_model}, {env.cpus} cores, {env.memory_gib:.1f} GiB. "
        f"Load average (1/5/15 min) before: {load_b}; after: {load_a} — other benchmarks "
        "and test suites were running on the same 2 cores, so read the figures as a floor.",
        "",
        f"Data: {results.shape.jobs:,} generated jobs in {results.shape.orgs:,} orgs "
        f"(the big org: {results.big_org_jobs:,}), loaded with server-side SQL in "
        f"{results.load_seconds:.0f} s (VACUUM ANALYZE included). Server: Uvicorn "
        f"`--workers {o.workers}`, pool {o.pool_size} per worker, JSON access log on. "
        f"Client: wrk, 1 thread, {o.seconds:g} s per scenario after a warm-up, API-key auth.",
        "",
        "| scenario | connections | requests | req/s | p50 ms | p90 ms | p99 ms | answers |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results.runs:
        lines.append(
            f"| {r.label} | {r.connections} | {r.requests:,} | {r.rps:,.0f} | {r.p50_ms:.1f} | "
            f"{r.p90_ms:.1f} | {r.p99_ms:.1f} | {_answers(r.statuses)} |"
        )
    lines += [
        "",
        "One request at a time through the app in process (no network, no concurrency; "
        f"scenarios take turns, best and median of {o.service_rounds} rounds of 20): what each "
        "costs the server.",
        "",
        "| request | best ms | median ms |",
        "| --- | ---: | ---: |",
        *(f"| {t.label} | {t.best_ms:.1f} | {t.median_ms:.1f} |" for t in results.service),
        "",
        "Checked after the load:",
        "",
    ]
    for c in results.consistency:
        lines.append(f"- {'OK' if c.ok else 'FAILED'} — {c.label}: {c.detail}")
    pt = results.page_through
    if pt is not None:
        lines.append(
            f"- {'OK' if pt.matches else 'FAILED'} — page-through of the big org "
            f"(limit={o.page_limit}, following `next_cursor`): {pt.pages:,} pages, "
            f"{pt.rows:,} rows in {pt.seconds:.1f} s ({pt.pages_per_s:,.0f} pages/s, one "
            "connection); "
            + (
                "identical to `SELECT id ... ORDER BY created_at DESC, id DESC`"
                if pt.matches
                else f"first difference at row {pt.first_difference}"
            )
        )
    lines += [
        "",
        "Statements each request sends (recorded from the app; BEGIN and COMMIT come on "
        "top, and no pre-ping: a dead pooled connection is found without a round trip):",
        "",
        "| request | status | statements | which |",
        "| --- | ---: | ---: | --- |",
        *_statements(results),
        "",
        f"Plans of the listing query, exactly as the API sends it (the deep page starts after "
        f"{results.deep_rows:,} rows of the big org):",
        "",
    ]
    listing = [p for p in results.plans if "FROM content_jobs" in p.statement]
    listing = [p for p in listing if p.label.startswith("list")]
    lines += ["\n\n".join(_plan(p) for p in listing)]
    others = [p for p in results.plans if p not in listing]
    seq = sorted({f"{p.label}: {t}" for p in others for t in p.seq_scans})
    lines += [
        "",
        f"The other {len(others)} statements: Seq Scan in {', '.join(seq) if seq else 'none'}.",
    ]
    return "\n".join(lines)


def console(results: Results) -> str:
    lines = [f"{'scenario':58} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  answers"]
    for r in results.runs:
        lines.append(
            f"{r.label:58} {r.rps:8,.0f} {r.p50_ms:8.1f} {r.p99_ms:8.1f}  {_answers(r.statuses)}"
        )
    for t in results.service:
        lines.append(f"in process, one at a time: {t.label}: best {t.best_ms:.1f} ms, "
                     f"median {t.median_ms:.1f} ms")  # fmt: skip
    for c in results.consistency:
        lines.append(f"{'OK' if c.ok else 'FAILED':6} {c.label}: {c.detail}")
    pt = results.page_through
    if pt is not None:
        lines.append(
            f"{'OK' if pt.matches else 'FAILED':6} page-through: {pt.pages} pages, {pt.rows} "
            f"rows, {pt.seconds:.1f} s"
        )
    for p in results.plans:
        if p.label.startswith("list") and "FROM content_jobs" in p.statement:
            lines.append(f"\n{p.label}:\n{p.plan_text}")
    return "\n".join(lines)


def write_between_markers(path: Path, content: str) -> None:
    markers.write_between_markers(path, "jobs-api", content, title="Jobs")
