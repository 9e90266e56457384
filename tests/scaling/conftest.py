"""Many processes as many machines: `pressroom serve` and `pressroom worker` subprocesses,
each on its own port with its own pools, optionally through a real PgBouncer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.billing.conftest import PLANS_TOML, STRIPE_SECRET
from tests.pgbouncer import BINARY, PgBouncer, free_port


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not reached in {timeout}s: {what}")


class Cluster:
    """Processes that share nothing but the database URL, as on separate hosts."""

    def __init__(self, database_url: str, workdir: Path, **settings: str) -> None:
        plans = workdir / "plans.toml"
        plans.write_text(PLANS_TOML)
        self.workdir = workdir
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PRESSROOM_")},
            "DATABASE_URL": database_url,
            "PRESSROOM_PLANS_FILE": str(plans),
            "PRESSROOM_STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
            "PRESSROOM_WORKER_RUNNER": "echo",
            "PRESSROOM_WORKER_LEASE_SECONDS": "1.5",
            "PRESSROOM_WORKER_RESCUE_INTERVAL": "0.3",
            "PRESSROOM_WORKER_POLL_INTERVAL": "0.2",
            "PRESSROOM_DB_POOL_SIZE": "4",
            "PRESSROOM_DB_MAX_OVERFLOW": "4",
            **{f"PRESSROOM_{k.upper()}": v for k, v in settings.items()},
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.apis: list[str] = []

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "pressroom.cli", *args],
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def api(self, **settings: str) -> str:
        """Start an API process on a free port; return its base URL once it answers."""
        port = free_port()
        env = {f"PRESSROOM_{k.upper()}": v for k, v in settings.items()}
        proc = self._spawn("api", ["serve", "--port", str(port)], env)
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert proc.poll() is None, self.logs()
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, 60, "API process answers /healthz")
        self.apis.append(url)
        return url

    def worker(self, concurrency: int = 4, **settings: str) -> subprocess.Popen[bytes]:
        env = {f"PRESSROOM_{k.upper()}": v for k, v in settings.items()}
        return self._spawn("worker", ["worker", "--concurrency", str(concurrency)], env)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.workdir.glob("*.log"))
        )

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in self.procs:
            proc.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    made: list[Cluster] = []

    def make(database_url: str, **settings: str) -> Cluster:
        workdir = tmp_path / f"cluster{len(made)}"
        workdir.mkdir()
        made.append(Cluster(database_url, workdir, **settings))
        return made[-1]

    yield make
    for c in made:
        c.stop_all()


@pytest.fixture
def pgbouncer(server_url: str, database_url: str) -> Iterator[PgBouncer]:
    """A PgBouncer in transaction mode for the test's database (stopped before it is
    dropped: this fixture depends on `database_url`, so it is torn down first)."""
    if BINARY is None:
        pytest.skip("pgbouncer is not installed (.ci/run installs the Debian package)")
    bouncer = PgBouncer(server_url)
    bouncer.start()
    yield bouncer
    bouncer.stop()


def pooled_settings(bouncer: PgBouncer, database_url: str) -> dict[str, str]:
    """A process deployed behind `bouncer` that LISTENs on a direct connection."""
    return {"db_pooler": "pgbouncer", "db_listen_url": database_url}
