"""Statements per request, counted on the wire: libpq's protocol trace of every connection
the app opens, read around each request sent through the real app in process.

pg_stat_statements would count them in the server, but it needs
`shared_preload_libraries` (a server restart); the trace sees exactly what the server
receives, BEGIN and COMMIT included: a simple-protocol `Query` or an extended-protocol
`Execute` is one statement, and each `ReadyForQuery` the server sends ends a round trip.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psycopg
from sqlalchemy import Engine, event

from pressroom.db.async_pool import AsyncPool


@dataclass
class Counted:
    statements: int
    round_trips: int
    sql: list[str] = field(default_factory=list)


class WireCounter:
    """Attach to an engine (and the app's async pool, pressroom.db.async_pool) before their
    first connection; `count()` around a request."""

    def __init__(self, engine: Engine, async_pool: AsyncPool | None = None) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="pressroom-trace-"))
        self._files: list[IO[bytes]] = []
        self._offsets: list[int] = []
        # Per connection: its prepared statements' SQL, from Parse messages of any window.
        self._prepared: list[dict[str, str]] = []
        event.listen(engine, "connect", self._trace)
        if async_pool is not None:
            async_pool.on_connect.append(self._trace)

    def _trace(self, dbapi_connection: Any, _record: Any = None) -> None:
        f = (self._dir / f"{len(self._files)}.trace").open("w+b")
        self._files.append(f)
        self._offsets.append(0)
        self._prepared.append({})
        pgconn = dbapi_connection.pgconn
        pgconn.trace(f.fileno())
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)

    def _read_new(self) -> Counted:
        total = Counted(0, 0)
        for i, f in enumerate(self._files):
            f.seek(self._offsets[i])
            data = f.read()
            self._offsets[i] += len(data)
            parsed = parse(data.decode(errors="replace"), self._prepared[i])
            total.statements += parsed.statements
            total.round_trips += parsed.round_trips
            total.sql += parsed.sql
        return total

    @contextmanager
    def count(self) -> Iterator[Counted]:
        self._read_new()
        counted = Counted(0, 0)
        yield counted
        parsed = self._read_new()
        counted.statements, counted.round_trips, counted.sql = (
            parsed.statements, parsed.round_trips, parsed.sql,
        )  # fmt: skip


def _messages(trace: str) -> list[str]:
    """The trace's messages, one per line: SQL that spans lines is continued on lines that
    do not start with a direction and a length."""
    out: list[str] = []
    for line in trace.splitlines():
        if out and not _MESSAGE_START.match(line):
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


_MESSAGE_START = re.compile(r"^[FB]\t\d+\t")


def parse(trace: str, prepared: dict[str, str] | None = None) -> Counted:
    """One connection's trace. `prepared`: its statements prepared before (name -> SQL),
    updated with those this trace prepares."""
    out = Counted(0, 0)
    pending = prepared if prepared is not None else {}  # statement name -> its SQL
    unnamed = ""
    for line in _messages(trace):
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        who, what = parts[0], parts[2]
        rest = parts[3] if len(parts) > 3 else ""
        if who == "F" and what == "Query":
            out.statements += 1
            out.sql.append(rest.strip().strip('"'))
        elif who == "F" and what == "Parse":
            name, _, sql = rest.strip().partition(" ")
            pending[name] = sql.rsplit(" ", 1)[0].strip('"')
        elif who == "F" and what == "Bind":
            fields = rest.strip().split(" ")
            unnamed = pending.get(fields[1] if len(fields) > 1 else '""', "(prepared)")
        elif who == "F" and what == "Execute":
            out.statements += 1
            out.sql.append(unnamed)
        elif who == "B" and what == "ReadyForQuery":
            out.round_trips += 1
    return out
