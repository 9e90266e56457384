"""Killing a server process from a test, the way a restart or an admin would."""

from __future__ import annotations

import psycopg


def terminate_backend(database_url: str, pid: int) -> None:
    """Kill a server process and wait until the server has let it go."""
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(500):
            gone = admin.execute(
                "SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = %s)", (pid,)
            ).fetchone()
            if gone and gone[0]:
                return
            admin.execute("SELECT pg_sleep(0.01)")
    raise AssertionError(f"backend {pid} did not exit")
