"""Benchmark: signed Stripe webhook deliveries per second through the full HTTP stack.

    python -m bench.webhooks [--events 4000] [--workers 2] [--connections 64] [--client auto]

Creates a throwaway database (on DATABASE_URL's server, or the embedded one), starts the
real server (`pressroom serve --workers N`) in a subprocess on 127.0.0.1, and sends every
distinct `customer.subscription.updated` event twice (50% of deliveries are duplicates),
shuffled, over many subscriptions, each request exactly once. The load generator is `wrk`
(a system package: apt-get install -y wrk) with webhooks_wrk.lua replaying pre-signed raw
requests, or, without wrk, a raw-socket asyncio client. Requests are signed just before
the run, so a run must finish within the 300 s signature tolerance.

Prints deliveries/s, latency, CPU seconds by process (client, app, PostgreSQL backends)
and the load average, then checks: every answer 200, exactly one `processed` answer per
distinct event and `duplicate` for the rest, billing_events rows == distinct events,
nothing unapplied, every subscription in its newest state. Exits 1 if a check fails.
Never run as a test (tests/bench/test_webhook_bench_smoke.py runs it tiny, untimed).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from tests.billing import stripe_events as se

from bench.webhook_clients import WRK_INSTALL_HINT, ClientRun, run_python, run_wrk, wrk_available
from pressroom.db import admin, migrations
from pressroom.db.url import resolve_database_url, to_libpq_url

SECRET = "whsec_bench_secret"  # noqa: S105 (a throwaway server's test secret)
PATH = "/v1/webhooks/stripe"
STATUSES = ("trialing", "active", "past_due", "active", "unpaid", "active")
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Workload:
    events: int
    bodies: list[bytes]  # delivery order: each distinct event twice
    newest: dict[str, str]  # subscription -> the status of its newest event


@dataclass
class Check:
    rows: int
    unapplied: int
    newest_ok: int
    subscriptions: int


def build(org_id: uuid.UUID, events: int, subscriptions: int, seed: int = 7) -> Workload:
    """`events` distinct events over `subscriptions` subscriptions, each delivered twice."""
    newest: dict[str, str] = {}
    bodies: list[bytes] = []
    t0 = 1_750_000_000
    for n in range(events):
        sub = f"sub_bench_{n % subscriptions:05d}"
        status = STATUSES[(n // subscriptions) % len(STATUSES)]
        obj = se.subscription(sub, customer=f"cus_{sub}", status=status, org_id=str(org_id))
        # Distinct times: the expected final state is the newest event's.
        evt = se.event(f"evt_bench_{n:07d}", "customer.subscription.updated", obj, t0 + n)
        body = se.body_of(evt)
        bodies += [body, body]
        newest[sub] = status
    random.Random(seed).shuffle(bodies)
    return Workload(events, bodies, newest)


def signed_requests(bodies: list[bytes], host: str, secret: str = SECRET) -> list[bytes]:
    """Complete raw HTTP/1.1 requests, signed now (Stripe's tolerance is 300 s)."""
    stamp = int(time.time())
    head = f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    return [
        (
            f"{head}Stripe-Signature: {se.signature(body, secret, stamp)}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        for body in bodies
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not start")


def _warm_up(url: str, rounds: int = 64) -> None:
    """Unsigned deliveries on fresh connections (so every worker gets some): each worker
    builds its middleware stack on its first request, which is start-up, not throughput.
    They are refused with 400 and store nothing."""
    for _ in range(rounds):
        httpx.post(f"{url}{PATH}", content=b"{}", timeout=30)


def _cpu_seconds(pids: list[int]) -> tuple[float, float]:
    """User and system CPU time of these processes so far (Linux /proc; zeros elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    user = system = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user, system = user + int(fields[11]), system + int(fields[12])
    return user / ticks, system / ticks


def _process_tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = [root], [root]
    while frontier:
        children = [pid for pid, ppid in parents.items() if ppid in frontier]
        tree += children
        frontier = children
    return tree


def _backend_pids(db_url: str) -> list[int]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'pressroom'"
        ).fetchall()
    return [row[0] for row in rows]


def verify(db_url: str, workload: Workload) -> Check:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT count(*) FROM billing_events").fetchone()
        unapplied = conn.execute(
            "SELECT count(*) FROM billing_events WHERE processed_at IS NULL"
        ).fetchone()
        final = dict(
            conn.execute("SELECT provider_subscription_id, status FROM subscriptions").fetchall()
        )
    assert rows is not None
    assert unapplied is not None
    ok = sum(1 for sub, status in workload.newest.items() if final.get(sub) == status)
    return Check(rows[0], unapplied[0], ok, len(workload.newest))


def _start_server(db_url: str, port: int, workers: int, log_path: Path) -> subprocess.Popen[bytes]:
    plans = log_path.with_name("plans.toml")
    plans.write_text(f'[plans.pro]\nstripe_price_ids = ["{se.PRO_PRICE}"]\n')
    env = {
        **os.environ,
        "DATABASE_URL": to_libpq_url(db_url),
        "PRESSROOM_STRIPE_WEBHOOK_SECRET": SECRET,
        "PRESSROOM_PLANS_FILE": str(plans),
    }
    cmd = [sys.executable, "-m", "pressroom.cli", "serve", "--port", str(port)]
    cmd += ["--workers", str(workers)]
    # Production logging (JSON access line per request, INFO) goes to a file, as it would.
    with log_path.open("wb") as log:
        return subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=log, stderr=log)


LoadAverages = tuple[tuple[float, ...], tuple[float, ...]]


def _report(
    args: argparse.Namespace,
    run: ClientRun,
    check: Check,
    cpu: dict[str, float],
    load: LoadAverages,
    deliveries: int,
) -> bool:
    cpu_name = platform.processor() or platform.machine()
    rate = deliveries / run.elapsed_s if run.elapsed_s else 0.0
    print(f"machine: {cpu_name}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*load[0]))
    print("load average after:  {:.2f} {:.2f} {:.2f}".format(*load[1]))
    print(f"server: pressroom serve --workers {args.workers}; client: {run.client}")
    print(f"deliveries: {deliveries} ({args.events} distinct, 50% duplicates)")
    print(f"elapsed: {run.elapsed_s:.2f} s -> {rate:,.0f} deliveries/s")
    print(f"latency ms: p50 {run.p50_ms:.1f}, p99 {run.p99_ms:.1f}, max {run.max_ms:.1f}")
    busy = ", ".join(f"{name} {secs:.1f} s" for name, secs in cpu.items())
    print(f"CPU seconds during the run: {busy} (wall {run.elapsed_s:.1f} s x 2 cores)")
    print(
        f"answers: {run.answered} ({run.processed} processed, {run.duplicate} duplicate, "
        f"{run.non_200} non-200 or failed)"
    )
    for note in run.notes:
        print(f"note: {note}")
    checks = {
        "every delivery answered 200": run.answered == deliveries and run.non_200 == 0,
        "one `processed` per distinct event": run.processed == args.events,
        "billing_events rows == distinct events": check.rows == args.events,
        "nothing left unapplied": check.unapplied == 0,
        "every subscription in its newest state": check.newest_ok == check.subscriptions,
    }
    print(
        f"billing_events rows: {check.rows} (distinct events: {args.events}); "
        f"not applied: {check.unapplied}; newest state: {check.newest_ok}/{check.subscriptions}"
    )
    for name, ok in checks.items():
        print(f"check: {name}: {'OK' if ok else 'FAILED'}")
    return all(checks.values())


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=int, default=4000, help="distinct events")
    parser.add_argument("--subscriptions", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2, help="Uvicorn worker processes")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator (auto: wrk if installed)",
    )
    parser.add_argument(
        "--wrk-threads",
        type=int,
        default=1,
        help="wrk threads (one is plenty and leaves the cores to the server)",
    )
    parser.add_argument("--url", help="PostgreSQL server URL (default: DATABASE_URL/embedded)")
    parser.add_argument("--template", help="clone this migrated database instead of migrating")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    client = args.client
    if client == "auto":
        client = "wrk" if wrk_available() else "python"
        if client == "python":
            print(f"note: {WRK_INSTALL_HINT}; using the asyncio client instead")
    elif client == "wrk" and not wrk_available():
        raise SystemExit(WRK_INSTALL_HINT)

    server_url = args.url or resolve_database_url(quiet=True)
    name = f"pressroom_bench_{uuid.uuid4().hex[:8]}"
    db_url = admin.create_database(server_url, name, template=args.template)
    proc: subprocess.Popen[bytes] | None = None
    tmp = Path(tempfile.mkdtemp(prefix="pressroom-bench-"))
    try:
        if args.template is None:
            migrations.upgrade(db_url, "head")
        org_id = uuid.uuid4()
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("INSERT INTO organizations (id, name) VALUES (%s, 'Bench')", (org_id,))
        workload = build(org_id, args.events, args.subscriptions)

        port = _free_port()
        proc = _start_server(db_url, port, args.workers, tmp / "server.log")
        _wait_ready(f"http://127.0.0.1:{port}", proc)
        _warm_up(f"http://127.0.0.1:{port}")
        requests = signed_requests(workload.bodies, f"127.0.0.1:{port}")

        load_before = os.getloadavg()
        app_pids = _process_tree(proc.pid)
        app_user, app_sys = _cpu_seconds(app_pids)
        if client == "wrk":
            max_seconds = 280  # inside the 300 s signature tolerance
            run = run_wrk(
                f"http://127.0.0.1:{port}",
                requests,
                connections=args.connections,
                threads=args.wrk_threads,
                max_seconds=max_seconds,
            )
        else:
            run = run_python("127.0.0.1", port, requests, connections=args.connections)
        user, system = _cpu_seconds(app_pids)
        pg_user, pg_sys = _cpu_seconds(_backend_pids(db_url))
        cpu = {
            "client": run.client_cpu_s,
            "app user": user - app_user,
            "app system": system - app_sys,
            # Backends are opened by the run (the pools start empty): all of their time.
            "PostgreSQL backends": pg_user + pg_sys,
        }
        load_after = os.getloadavg()
        check = verify(db_url, workload)
        ok = _report(args, run, check, cpu, (load_before, load_after), len(requests))
        if not ok:
            print(f"server log: {tmp / 'server.log'}")
            raise SystemExit(1)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        admin.drop_database(server_url, name)


if __name__ == "__main__":
    main()
