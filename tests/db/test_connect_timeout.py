"""A database host that accepts TCP but never answers: one line naming the host and the
setting, within the connect timeout, from migrations and the worker alike."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest


@pytest.fixture
def silent_host() -> Iterator[str]:
    """A listening socket that accepts connections (the kernel's backlog) and never speaks."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        port = sock.getsockname()[1]
        yield f"postgresql://postgres@127.0.0.1:{port}/pressroom"


@pytest.mark.parametrize("command", [["db", "upgrade"], ["worker"]])
def test_a_silent_host_gives_one_line_naming_it_and_the_setting(
    silent_host: str, command: list[str]
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": silent_host,
        "PRESSROOM_DB_CONNECT_TIMEOUT_SECONDS": "2",
    }
    env.pop("PRESSROOM_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "pressroom.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "cannot connect" in line]
    assert len(errors) == 1, result.stderr
    assert silent_host.split("@")[1].split("/")[0] in errors[0]
    assert "PRESSROOM_DB_CONNECT_TIMEOUT_SECONDS" in errors[0]
