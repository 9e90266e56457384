"""Starting the API and its workers the way `pressroom up` (`make run`) does: take the port
first, have the workers ready before the API answers, and stop them when it stops."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

READY_TIMEOUT_SECONDS = 120.0
STOP_TIMEOUT_SECONDS = 40.0


class LaunchError(Exception):
    """Why the API or a worker could not start, as one line for the operator."""


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or LaunchError saying the port is taken.

    Taken before anything else starts, so a busy port is one clear line and nothing has
    claimed to listen yet; uvicorn then serves on this very socket (no race for the port).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise LaunchError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a restart does not wait for the old connections' TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise LaunchError(
                f"port {port} on {host} is already in use (another `make run`?): stop that "
                f"process or choose another port, e.g. `make run PORT={port + 1}`"
            ) from None
        raise LaunchError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


@contextmanager
def workers(count: int, env: Mapping[str, str]) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start `count` worker processes and wait until each is ready to claim jobs; on exit,
    stop them (SIGTERM: each finishes or hands back its running jobs) and wait for them."""
    with tempfile.TemporaryDirectory(prefix="pressroom-up-") as tmp:
        ready_files = [Path(tmp) / f"worker-{i}.ready" for i in range(count)]
        children = [
            subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", "pressroom.cli", "worker", "--ready-file", str(path)],
                env=dict(env),
            )
            for path in ready_files
        ]
        try:
            _wait_ready(children, ready_files)
            yield children
        finally:
            _stop(children)


def _wait_ready(children: list[subprocess.Popen[bytes]], ready_files: list[Path]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not all(path.exists() for path in ready_files):
        for child in children:
            if child.poll() is not None:
                raise LaunchError(
                    f"a worker exited before it was ready (exit code {child.returncode})"
                )
        if time.monotonic() > deadline:
            raise LaunchError(f"the workers were not ready within {READY_TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.05)


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def mark_ready(path: Path | None) -> None:
    """Tell `workers()` (our parent) that this worker is about to claim jobs."""
    if path is not None:
        path.touch()


def child_environment(database_url: str) -> dict[str, str]:
    # The workers must reach the database this process resolved (possibly the embedded
    # server it started), whatever the environment said.
    return {**os.environ, "DATABASE_URL": database_url}
