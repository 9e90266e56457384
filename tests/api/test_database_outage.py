"""The database goes away under load and comes back: every request is answered (202, or
503 `database_unavailable` with Retry-After; no reset connection), and every job that was
acknowledged exists afterwards.

The outage is a TCP proxy in front of the real PostgreSQL that drops every connection and
then refuses new ones for a while: what a restart or a failover looks like to the app.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from pressroom.db.url import to_libpq_url
from tests.http import create_org, new_user
from tests.jobs.conftest import live_server, plans_file

__all__ = ["live_server", "plans_file"]

JOB = {"kind": "summary", "input": {"text": "PostgreSQL is a queue. " * 5}}


class OutageProxy:
    def __init__(self, upstream: tuple[str, int] | str) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.down = threading.Event()
        self.closed = False
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down.is_set():
                client.close()
                continue
            server = self._connect_upstream()
            with self._lock:
                self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        if isinstance(self.upstream, str):  # a unix socket (the embedded server)
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(self.upstream)
            return sock
        return socket.create_connection(self.upstream)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def outage(self) -> None:
        self.down.set()
        with self._lock:
            dropped, self._open = self._open, []
        for s in dropped:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        self.down.clear()

    def close(self) -> None:
        self.closed = True
        self.outage()
        self.listener.close()


@pytest.fixture
def proxy(database_url: str) -> Iterator[OutageProxy]:
    u = make_url(database_url)
    port = u.port or 5432
    socket_dir = u.query.get("host")
    upstream = f"{socket_dir}/.s.PGSQL.{port}" if socket_dir and not u.host else None
    p = OutageProxy(upstream or (u.host or "127.0.0.1", port))
    yield p
    p.close()


def test_an_outage_under_load_answers_503_and_loses_no_acknowledged_job(
    database_url: str,
    proxy: OutageProxy,
    live_server: Callable[..., str],
    plans_file: Callable[[str], None],
) -> None:
    plans_file("[plans.free]\nmonthly_quota = 5000\n")
    u = make_url(database_url)
    query = {k: v for k, v in u.query.items() if k != "host"}
    through_proxy = u.set(host="127.0.0.1", port=proxy.port, query=query).render_as_string(False)
    base = live_server(url=through_proxy)
    with httpx.Client(base_url=base, timeout=30) as setup:
        _, headers = new_user(setup)  # type: ignore[arg-type]
        org_id = create_org(setup, headers)  # type: ignore[arg-type]
    stop = threading.Event()

    def load(_: int) -> tuple[list[str], list[str], list[str]]:
        acked, refused, broken = [], [], []
        with httpx.Client(base_url=base, headers=headers, timeout=30) as c:
            while not stop.is_set():
                try:
                    r = c.post(f"/v1/orgs/{org_id}/jobs", json=JOB)
                except httpx.TransportError as exc:
                    broken.append(repr(exc))
                    continue
                if r.status_code == 202:
                    acked.append(r.json()["id"])
                elif (
                    r.status_code == 503
                    and r.json()["code"] == "database_unavailable"
                    and int(r.headers["Retry-After"]) > 0
                ):
                    refused.append(r.text)
                else:
                    broken.append(f"{r.status_code} {r.text}")
        return acked, refused, broken

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(load, i) for i in range(4)]
        time.sleep(1.0)
        proxy.outage()
        time.sleep(1.5)
        proxy.restore()
        time.sleep(2.0)
        stop.set()
        results = [f.result() for f in futures]
    acked = [a for r in results for a in r[0]]
    refused = [x for r in results for x in r[1]]
    broken = [x for r in results for x in r[2]]
    assert broken == []
    assert refused, "the outage was never seen"
    with psycopg.connect(to_libpq_url(database_url)) as conn:
        stored = {str(row[0]) for row in conn.execute("SELECT id FROM content_jobs")}
    assert set(acked) <= stored
    assert len(acked) > 0
