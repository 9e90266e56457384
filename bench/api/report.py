"""The results as a table: per endpoint, CPU and statements per request, req/s, p50/p99,
each CPU figure also as a ratio to the bare-FastAPI floor of the same run."""

from __future__ import annotations

from bench.api.run import Results

NAME = "api"
TITLE = "API performance"


def _load(values: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in values)


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "—" if value is None else format(value, fmt)


def rows(results: Results) -> list[list[str]]:
    floor = results.bare_floor.cpu_ms
    out = []
    for m in results.measured:
        ratio = m.cpu_ms / floor if floor else 0.0
        answers = ", ".join(f"{s}: {n:,}" for s, n in sorted(m.statuses.items()))
        out.append(
            [
                m.label,
                f"{m.cpu_ms:.2f}",
                f"{ratio:.1f}x",
                _num(m.statements),
                _num(m.round_trips),
                _num(m.new_connections_per_1k),
                f"{m.rps:,.0f}",
                f"{m.p50:.1f}",
                f"{m.p99:.1f}",
                answers,
            ]
        )
    return out


HEADER = [
    "endpoint", "app CPU ms/req", "x bare floor", "statements/req", "round trips/req",
    "new connections/1k req", "req/s", "p50 ms", "p99 ms", "answers",
]  # fmt: skip


def table(results: Results) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "| --- |" + " ---: |" * 8 + " --- |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows(results)]
    return "\n".join(lines)


def markdown(results: Results, *, heading: str) -> str:
    o, env = results.options, results.environment
    return "\n".join(
        [
            f"### {heading}",
            "",
            f"Command: `{results.command}` — {env.server_label}, PostgreSQL "
            f"{env.server_version}; {env.cpu_model}, {env.cpus} cores. Load average "
            f"(1/5/15 min) before: {_load(env.load_before)}; after: {_load(env.load_after)}.",
            "",
            f"{results.big_org_jobs:,} jobs in the big org (the deep page starts after "
            f"{results.deep_rows:,} rows). Uvicorn `--workers {o.workers}` for the app and "
            f"for the floors alike; wrk, 1 thread, {o.connections} connections, "
            f"{o.rounds} rounds of {o.seconds:g} s per endpoint taking turns. CPU: utime + "
            "stime of the server's process tree from /proc around each run, divided by the "
            "requests answered. Statements and round trips: counted on the wire (libpq "
            f"trace, BEGIN and COMMIT included) over {o.count_requests} requests in process. "
            "New connections: `pg_stat_database.sessions` of the bench database around "
            "each run (the app's pool opening connections while it serves).",
            "",
            table(results),
        ]
    )


def console(results: Results) -> str:
    env = results.environment
    return "\n".join(
        [
            table(results),
            f"load average before: {_load(env.load_before)}; after: {_load(env.load_after)}",
            *(f"{m.label}: {' | '.join(m.sql)}" for m in results.measured if m.sql),
        ]
    )
