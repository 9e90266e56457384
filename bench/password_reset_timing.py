"""Does POST /v1/auth/password-reset take the same time for known and unknown addresses?

Runs the real app under Uvicorn on a fresh database (DATABASE_URL names the server; a
database is created and dropped), then sends the two kinds of request interleaved, over
one keep-alive connection, and prints the latency distribution of each and the
difference of their medians with a bootstrap 95 % interval.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python -m bench.password_reset_timing [requests per kind]
"""

from __future__ import annotations

import os
import random
import socket
import statistics
import sys
import threading
import time
import uuid

import httpx
import uvicorn

from pressroom.app import create_app
from pressroom.config import Settings
from pressroom.db import admin, migrations
from pressroom.db.session import make_engine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def main(per_kind: int = 400) -> None:
    server_url = os.environ["DATABASE_URL"]
    name = f"pressroom_bench_reset_{uuid.uuid4().hex[:8]}"
    url = admin.create_database(server_url, name)
    try:
        migrations.upgrade(url, "head")
        engine = make_engine(url, pool_size=4)
        settings = Settings(
            password_reset_limit_per_ip=10**9,
            password_reset_limit_per_account=10**9,
            log_level="WARNING",
        )
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(engine, settings), host="127.0.0.1", port=port, log_level="warning"
            )
        )
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.02)
        base = f"http://127.0.0.1:{port}"
        known = "known-user@example.com"
        with httpx.Client(base_url=base) as http:
            signed = http.post(
                "/v1/auth/signup", json={"email": known, "password": "a long passphrase 42"}
            )
            assert signed.status_code == 201, signed.text
            kinds = ["known", "unknown"] * per_kind
            random.shuffle(kinds)
            times: dict[str, list[float]] = {"known": [], "unknown": []}
            for n, kind in enumerate(kinds):
                email = known if kind == "known" else f"nobody-{n}@example.com"
                started = time.perf_counter()
                answer = http.post("/v1/auth/password-reset", json={"email": email})
                elapsed = (time.perf_counter() - started) * 1000
                assert answer.status_code == 202
                if n >= 20:  # warm-up
                    times[kind].append(elapsed)
        server.should_exit = True
        engine.dispose()
    finally:
        admin.drop_database(server_url, name)
    for kind, values in times.items():
        q = statistics.quantiles(values, n=100)
        print(
            f"{kind:8} n={len(values)}  median {statistics.median(values):.2f} ms"
            f"  p10 {q[9]:.2f}  p90 {q[89]:.2f}  p99 {q[98]:.2f}"
        )
    diffs = []
    rng = random.Random(1)
    for _ in range(2000):
        a = [rng.choice(times["known"]) for _ in times["known"]]
        b = [rng.choice(times["unknown"]) for _ in times["unknown"]]
        diffs.append(statistics.median(a) - statistics.median(b))
    diffs.sort()
    print(
        f"median(known) - median(unknown): "
        f"{statistics.median(times['known']) - statistics.median(times['unknown']):+.3f} ms"
        f"  (95 % bootstrap interval {diffs[50]:+.3f} .. {diffs[1949]:+.3f} ms)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 400)
