"""Drive the server with wrk (C, one thread, keep-alive connections) and read its figures.

A Python client would need a core of its own to keep up with the server; wrk needs a
small fraction of one, which matters on a 2-core machine where the client, Uvicorn and
PostgreSQL share the CPUs. Latency is wrk's: request sent to response read, per request,
over closed-loop connections (no coordinated-omission correction).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).with_name("load.lua")
INSTALL_HINT = (
    "wrk is not installed: on Debian/Ubuntu `apt-get update && apt-get install -y wrk`, "
    "on macOS `brew install wrk`"
)


class WrkMissing(RuntimeError):
    pass


@dataclass
class WrkResult:
    label: str
    connections: int
    seconds: float
    requests: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    replayed: int
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def count(self, status: int) -> int:
        return self.statuses.get(status, 0)


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing(INSTALL_HINT)
    return path


def parse(label: str, connections: int, output: str) -> WrkResult:
    line = next((x for x in output.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result line:\n{output}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    return WrkResult(
        label=label,
        connections=connections,
        seconds=data["duration_us"] / 1e6,
        requests=data["requests"],
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        socket_errors=data["socket_errors"],
        replayed=data["replayed"],
        statuses={int(k): v for k, v in data["statuses"].items()},
    )


def run(
    label: str,
    url: str,
    *,
    token: str,
    seconds: float,
    connections: int,
    post_body: Path | None = None,
    keys: str = "none",
    tag: str = "run",
    pool: int = 100,
) -> WrkResult:
    """One wrk run against `url`; `post_body` makes it a POST of that file's JSON."""
    cmd = [
        require_wrk(),
        "--threads", "1",
        "--connections", str(connections),
        "--duration", f"{max(1, round(seconds))}s",
        "--timeout", "30s",
        "--header", f"Authorization: Bearer {token}",
        "--script", str(SCRIPT),
        url, "--",
    ]  # fmt: skip
    if post_body is None:
        cmd.append("get")
    else:
        cmd += ["post", str(post_body), keys, tag, str(pool)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=seconds + 120)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse(label, connections, done.stdout)
