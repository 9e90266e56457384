"""A real PgBouncer (the Debian package) in transaction mode in front of the test server.

Works for both test servers: the embedded one (a Unix socket) and DATABASE_URL (TCP). It
listens on a free loopback port, trusts the server's login roles (the test server trusts
them too) and keeps PgBouncer's default of refusing startup options, as a stock
deployment does.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from pressroom.db.url import to_libpq_url

BINARY = shutil.which("pgbouncer") or next(
    (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(p)), None
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PgBouncer:
    def __init__(self, server_url: str, *, pool_size: int = 20) -> None:
        assert BINARY is not None, "pgbouncer is not installed (apt-get install pgbouncer)"
        self.server_url = to_libpq_url(server_url)
        self.server = conninfo_to_dict(self.server_url)
        # Its own directory under /tmp: PgBouncer drops root, and pytest's are private.
        self.workdir = Path(tempfile.mkdtemp(prefix="pressroom-pgbouncer-"))
        self.pool_size = pool_size
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, database_url: str) -> str:
        """`database_url`'s database and user, through this PgBouncer."""
        target = conninfo_to_dict(to_libpq_url(database_url))
        user = target.get("user", "postgres")
        return f"postgresql://{user}@127.0.0.1:{self.port}/{target['dbname']}"

    def _config(self, roles: list[str]) -> None:
        host = self.server.get("host") or "/var/run/postgresql"
        port = self.server.get("port") or "5432"
        (self.workdir / "userlist.txt").write_text("".join(f'"{r}" ""\n' for r in roles))
        (self.workdir / "pgbouncer.ini").write_text(
            f"""[databases]
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.workdir / "userlist.txt"}
admin_users = {self.server.get("user", "postgres")}
pool_mode = transaction
max_client_conn = 2000
default_pool_size = {self.pool_size}
reserve_pool_size = 0
server_check_delay = 0
"""
        )

    def _run_as(self) -> list[str]:
        """PgBouncer refuses to run as root: run it as the owner of the server's socket
        directory (who can reach the embedded server), else as `postgres`."""
        if os.geteuid() != 0:
            return []
        host = str(self.server.get("host") or "")
        user = pwd.getpwuid(os.stat(host).st_uid).pw_name if host.startswith("/") else "postgres"
        if user == "root":
            user = "postgres"
        shutil.chown(self.workdir, user)
        for child in self.workdir.iterdir():
            shutil.chown(child, user)
        return ["-u", user]

    def start(self) -> None:
        with psycopg.connect(self.server_url) as conn:
            roles = [r for (r,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolcanlogin")]
        self._config(roles)
        command = [BINARY, *self._run_as(), str(self.workdir / "pgbouncer.ini")]
        with (self.workdir / "pgbouncer.log").open("wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("pgbouncer did not start listening")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def transactions(self, database: str) -> int:
        """Transactions PgBouncer has passed through for `database` (its admin console
        speaks only the simple query protocol: hence the client-side cursor)."""
        user = self.server.get("user", "postgres")
        admin = f"postgresql://{user}@127.0.0.1:{self.port}/pgbouncer"
        with psycopg.connect(admin, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn:
            cur = conn.execute("SHOW STATS")
            names = [c.name for c in cur.description or ()]
            for row in cur:
                stats = dict(zip(names, row, strict=True))
                if stats["database"] == database:
                    return int(stats["total_xact_count"])
        return 0

    def log(self) -> str:
        path = self.workdir / "pgbouncer.log"
        return path.read_text() if path.exists() else ""
