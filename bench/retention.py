"""Retention benchmark: how fast pruning goes, and what it does to the API's p99 meanwhile.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        python -m bench.retention [--jobs 100000] [--orgs 500] [--seconds 8]

On a fresh database (migrated to head) it loads `--jobs` finished jobs, all past the free
plan's 30 days, each with a 2,000-character input and two artifacts, over `--orgs` orgs;
starts a real `pressroom serve` process; then measures GET /v1/orgs/{org}/jobs (a page of
20, 4 client threads, closed loop) for `--seconds` with no pruning, and again while a
Pruner (the worker's, batch 500) prunes everything. Prints prune rate (jobs/s, MB/s of
artifacts) and the API's p50/p99 before and during.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg

from pressroom.db import admin, migrations
from pressroom.db.session import make_engine
from pressroom.jobs.retention import Pruner

PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway bench account


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def load(url: str, jobs: int, orgs: int, owner_org: uuid.UUID) -> None:
    with psycopg.connect(url) as db:
        db.execute(
            "INSERT INTO organizations (id, name) SELECT gen_random_uuid(), 'bench ' || g"
            " FROM generate_series(1, %s) g",
            (orgs - 1,),
        )
        db.execute(
            """
            INSERT INTO content_jobs (id, org_id, kind, input, status, attempts, finished_at,
                                      quota_period, created_at)
            SELECT gen_random_uuid(), o.ids[1 + g %% cardinality(o.ids)], 'summary',
                   jsonb_build_object('text', repeat('lorem ipsum ', 170)), 'succeeded', 1,
                   now() - interval '40 days' - make_interval(secs => g),
                   date_trunc('month', now())::date, now() - interval '41 days'
            FROM generate_series(1, %s) g,
                 (SELECT array_agg(id) AS ids FROM organizations WHERE id <> %s) o
            """,
            (jobs, owner_org),
        )
        db.execute(
            """
            INSERT INTO content_artifacts (id, job_id, type, media_type, content, size_bytes)
            SELECT gen_random_uuid(), j.id, t, 'text/markdown', repeat('words ', 250), 1500
            FROM content_jobs j CROSS JOIN (VALUES ('summary'), ('seo')) AS k(t)
            """
        )
        # The measured org's own recent jobs (kept: they are not expired).
        db.execute(
            "INSERT INTO content_jobs (id, org_id, kind, input, status, finished_at, created_at)"
            " SELECT gen_random_uuid(), %s, 'summary', '{\"text\": \"x\"}', 'succeeded', now(),"
            " now() - make_interval(secs => g) FROM generate_series(1, 200) g",
            (owner_org,),
        )
        db.execute("ANALYZE")


def measure(
    base: str, org: str, headers: dict[str, str], seconds: float, until: threading.Event
) -> list[float]:
    """Latencies for `seconds`, or until `until` is set if sooner."""
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            while time.monotonic() < stop and not until.is_set():
                started = time.perf_counter()
                response = http.get(f"/v1/orgs/{org}/jobs", params={"limit": 20})
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text

    with ThreadPoolExecutor(4) as pool:
        for f in [pool.submit(client) for _ in range(4)]:
            f.result()
    return latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--orgs", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    server = os.environ["DATABASE_URL"]
    name = f"pressroom_bench_retention_{uuid.uuid4().hex[:8]}"
    url = admin.create_database(server, name)
    proc = None
    try:
        migrations.upgrade(url, "head")
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "PRESSROOM_LOG_LEVEL": "WARNING"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "pressroom.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(f"{base}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        creds = {"email": email, "password": PASSWORD}
        httpx.post(f"{base}/v1/auth/signup", json=creds).raise_for_status()
        token = httpx.post(f"{base}/v1/auth/login", json=creds).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        org = httpx.post(f"{base}/v1/orgs", json={"name": "bench"}, headers=headers).json()["id"]
        started = time.monotonic()
        load(url, args.jobs, args.orgs, uuid.UUID(org))
        print(f"loaded {args.jobs} expired jobs in {time.monotonic() - started:.1f}s")

        idle = measure(base, org, headers, args.seconds, threading.Event())
        engine = make_engine(url, pool_size=1)
        pruner = Pruner(engine, batch_size=500)
        done = threading.Event()
        total = {"jobs": 0, "bytes": 0, "seconds": 0.0}

        def prune() -> None:
            t0 = time.monotonic()
            while True:
                r = pruner.run(max_seconds=3600)
                total["jobs"] += r.jobs
                total["bytes"] += r.artifact_bytes
                if r.jobs == 0:
                    break
            total["seconds"] = time.monotonic() - t0
            done.set()

        thread = threading.Thread(target=prune)
        thread.start()
        during = measure(base, org, headers, args.seconds, done)
        thread.join()
        engine.dispose()
        rate = total["jobs"] / total["seconds"]
        print(
            f"pruned {total['jobs']} jobs in {total['seconds']:.1f}s: {rate:,.0f} jobs/s, "
            f"{total['bytes'] / total['seconds'] / 1e6:.1f} MB/s of artifacts (batch 500)"
        )
        print(
            f"GET /v1/orgs/{{org}}/jobs, 4 clients: idle p50 {pct(idle, 50):.1f} ms "
            f"p99 {pct(idle, 99):.1f} ms ({len(idle)} requests); while pruning "
            f"p50 {pct(during, 50):.1f} ms p99 {pct(during, 99):.1f} ms ({len(during)} requests)"
        )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait()
        admin.drop_database(server, name)


if __name__ == "__main__":
    main()
