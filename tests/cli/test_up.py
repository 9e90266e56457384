"""`pressroom up` (what `make run` runs), as a newcomer meets it: the README's commands work
verbatim against it, a busy port is one clear line, Ctrl-C stops the API and the workers."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from pressroom.config import DEV_KEY_WARNING
from pressroom.db.url import to_libpq_url

REPO = Path(__file__).resolve().parents[2]
README_API = "API=http://127.0.0.1:8000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESSROOM_")}
    env["DATABASE_URL"] = to_libpq_url(database_url)
    return env


def _pressroom(*args: str) -> list[str]:
    return [sys.executable, "-m", "pressroom.cli", *args]


@dataclass
class Up:
    process: subprocess.Popen[str]
    port: int
    lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, event: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not any(f'"event":"{event}"' in line for line in self.lines):
            assert self.process.poll() is None, "\n".join(self.lines)
            assert time.monotonic() < deadline, "\n".join(self.lines)
            time.sleep(0.1)

    def events(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def up(empty_database_url: str) -> Iterator[Up]:
    """`pressroom up` on a free port and a database never migrated (up migrates it)."""
    port = free_port()
    process = subprocess.Popen(
        _pressroom("up", "--port", str(port)),
        env=_env(empty_database_url),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
    )
    running = Up(process, port)
    threading.Thread(target=running._read, daemon=True).start()
    yield running
    if process.poll() is None:
        process.kill()
        process.wait()


def readme_calling_block() -> str:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Calling the API", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return block.group(1)


@pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("jq")),
    reason="the README's commands need curl and jq (.ci/run installs them)",
)
def test_the_readme_commands_work_verbatim_against_make_run(up: Up) -> None:
    up.wait_for("pressroom ready")
    script = readme_calling_block()
    assert script.count(README_API) == 1
    # The only change: the port of this test's server.
    script = script.replace(README_API, f"API={up.url}")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # The job was read back with the README's own API key, and waited for.
    # (curl prints no newline after a body: the echo's line is the end of one.)
    assert any(line.endswith("succeeded") for line in out.splitlines()), out
    assert '"type": "key_points"' in out, out
    assert '"jobs_used": 1' in out or '"jobs_used":1' in out, out

    # Orchestrators poll /readyz: it must not log Alembic's lines on every call.
    for _ in range(3):
        assert httpx.get(f"{up.url}/readyz").json() == {"status": "ready"}

    up.process.send_signal(signal.SIGINT)  # Ctrl-C
    assert up.process.wait(60) == 0, "\n".join(up.lines)
    time.sleep(0.3)  # let the reader thread drain stderr
    events = up.events()  # every line is JSON: one format when stderr is not a terminal
    names = [e["event"] for e in events]
    # The API answered only once the worker was ready; the dev-key warning said once.
    assert names.index("worker started") < names.index("pressroom ready")
    assert names.count(DEV_KEY_WARNING) == 1
    assert "pressroom stopped: the API and the worker(s)" in names
    after_ready = events[names.index("pressroom ready") :]
    assert [e for e in after_ready if e["event"] == "request"], "the access log is missing"
    assert not [e for e in after_ready if str(e.get("logger")).startswith("alembic")]


def test_a_busy_port_is_one_clear_line_before_anything_starts(empty_database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            _pressroom("up", "--port", str(port)),
            env=_env(empty_database_url),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=REPO,
        )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: port {port} on 127.0.0.1 is already in use (another `make run`?): stop that "
        f"process or choose another port, e.g. `make run PORT={port + 1}`"
    ]
    # Refused before migrating or starting a worker.
    with psycopg.connect(to_libpq_url(empty_database_url)) as conn:
        assert conn.execute("SELECT to_regclass('alembic_version')").fetchone() == (None,)


def test_make_run_takes_the_port() -> None:
    result = subprocess.run(
        # --no-print-directory: under `make test` this make is nested and would add
        # "Entering/Leaving directory" lines.
        ["make", "--no-print-directory", "-n", "run", "PORT=8123"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1].endswith("pressroom up --port 8123")
