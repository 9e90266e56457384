"""Benchmark: signed Stripe webhook deliveries per second through the full HTTP stack.

    python -m bench.webhooks [--events 4000] [--concurrency 64] [--workers 2]

Creates a throwaway database (on DATABASE_URL's server, or the embedded one), runs the
real app under Uvicorn in a subprocess on 127.0.0.1, and drives it with concurrent httpx
clients: every distinct event is delivered twice (50% of deliveries are duplicates), in
random order, over many subscriptions. Prints deliveries/s and latency, then checks that
billing_events holds exactly one row per distinct event and every subscription ended in
its newest state. Never run as a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import socket
import statistics
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

from pressroom.db import admin, migrations
from pressroom.db.url import resolve_database_url

SECRET = "whsec_bench_secret"  # noqa: S105 (a throwaway server's test secret)
STATUSES = ("trialing", "active", "past_due", "active", "unpaid", "active")


@dataclass
class Delivery:
    body: bytes
    headers: dict[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _build(org_id: uuid.UUID, events: int, subscriptions: int) -> tuple[list[Delivery], dict]:
    """`events` distinct events over `subscriptions` subscriptions, each delivered twice."""
    newest: dict[str, tuple[int, str]] = {}
    deliveries: list[Delivery] = []
    t0 = 1_750_000_000
    for n in range(events):
        sub = f"sub_bench_{n % subscriptions:05d}"
        created = t0 + n  # distinct times: the expected final state is the newest event
        status = STATUSES[(n // subscriptions) % len(STATUSES)]
        obj = se.subscription(sub, customer=f"cus_{sub}", status=status, org_id=str(org_id))
        evt = se.event(f"evt_bench_{n:07d}", "customer.subscription.updated", obj, created)
        body = se.body_of(evt)
        delivery = Delivery(body, se.signed_headers(body, SECRET))
        deliveries += [delivery, delivery]
        newest[sub] = (created, status)
    random.Random(7).shuffle(deliveries)
    return deliveries, newest


async def _drive(url: str, deliveries: list[Delivery], concurrency: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    queue = iter(deliveries)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal errors
            for d in queue:
                start = time.perf_counter()
                resp = await client.post("/v1/webhooks/stripe", content=d.body, headers=d.headers)
                latencies.append(time.perf_counter() - start)
                if resp.status_code != 200:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=4000, help="distinct events")
    parser.add_argument("--subscriptions", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="Uvicorn worker processes")
    args = parser.parse_args()

    server_url = resolve_database_url(quiet=True)
    name = f"pressroom_bench_{uuid.uuid4().hex[:8]}"
    db_url = admin.create_database(server_url, name)
    proc: subprocess.Popen[bytes] | None = None
    try:
        migrations.upgrade(db_url, "head")
        org_id = uuid.uuid4()
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("INSERT INTO organizations (id, name) VALUES (%s, 'Bench')", (org_id,))
        deliveries, newest = _build(org_id, args.events, args.subscriptions)

        plans = Path(tempfile.mkdtemp(prefix="pressroom-bench-")) / "plans.toml"
        plans.write_text(f'[plans.pro]\nstripe_price_ids = ["{se.PRO_PRICE}"]\n')
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "PRESSROOM_STRIPE_WEBHOOK_SECRET": SECRET,
            "PRESSROOM_DB_POOL_SIZE": "20",
            "PRESSROOM_PLANS_FILE": str(plans),
        }
        cmd = [
            sys.executable, "-m", "uvicorn", "pressroom.app:create_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, env=env, cwd=Path(__file__).resolve().parents[1])
        _wait_ready(url, proc)

        started = time.perf_counter()
        latencies, errors = asyncio.run(_drive(url, deliveries, args.concurrency))
        elapsed = time.perf_counter() - started

        with psycopg.connect(db_url) as conn:
            rows = conn.execute("SELECT count(*) FROM billing_events").fetchone()
            unapplied = conn.execute(
                "SELECT count(*) FROM billing_events WHERE processed_at IS NULL"
            ).fetchone()
            final = dict(
                conn.execute(
                    "SELECT provider_subscription_id, status FROM subscriptions"
                ).fetchall()
            )
        wrong = sum(1 for sub, (_, status) in newest.items() if final.get(sub) != status)
        lat_ms = sorted(x * 1000 for x in latencies)
        cpu = platform.processor() or platform.machine()
        print(f"machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}")
        print(f"server: uvicorn --workers {args.workers}; clients: {args.concurrency} concurrent")
        print(f"deliveries: {len(deliveries)} ({args.events} distinct, 50% duplicates)")
        print(f"elapsed: {elapsed:.2f} s -> {len(deliveries) / elapsed:,.0f} deliveries/s")
        print(
            f"latency ms: p50 {statistics.median(lat_ms):.1f}, "
            f"p99 {lat_ms[int(len(lat_ms) * 0.99)]:.1f}, max {lat_ms[-1]:.1f}"
        )
        print(f"non-200 answers: {errors}")
        assert rows is not None
        assert unapplied is not None
        verdict = "OK" if rows[0] == args.events else "MISMATCH"
        print(
            f"billing_events rows: {rows[0]} (distinct events: {args.events}) -> {verdict}; "
            f"not applied: {unapplied[0]}"
        )
        print(f"subscriptions in their newest state: {len(newest) - wrong}/{len(newest)}")
        if errors or rows[0] != args.events or wrong or unapplied[0]:
            raise SystemExit(1)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        admin.drop_database(server_url, name)


if __name__ == "__main__":
    main()
