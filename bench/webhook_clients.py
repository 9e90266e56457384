"""Load generators for bench/webhooks.py: wrk (C, preferred) or a raw-socket asyncio client.

Both send pre-built, pre-signed raw HTTP/1.1 requests over keep-alive connections, each
request exactly once, and count the answers by outcome. The client must not starve the
server on a 2-core machine: wrk costs a few percent of one core at these rates; the asyncio
fallback (no HTTP library, uvloop when installed) costs more but far less than httpx did.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

LUA_SCRIPT = Path(__file__).with_name("webhooks_wrk.lua")
WRK_INSTALL_HINT = "wrk is not installed (Debian/Ubuntu: apt-get install -y wrk)"
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)


@dataclass
class ClientRun:
    client: str
    answered: int = 0
    non_200: int = 0
    processed: int = 0
    duplicate: int = 0
    elapsed_s: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    client_cpu_s: float = 0.0
    notes: list[str] = field(default_factory=list)


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _write_requests(requests: list[bytes], directory: Path) -> tuple[Path, Path]:
    data, lengths = directory / "requests.bin", directory / "lengths.txt"
    data.write_bytes(b"".join(requests))
    lengths.write_text("".join(f"{len(r)}\n" for r in requests))
    return data, lengths


def run_wrk(
    url: str, requests: list[bytes], *, connections: int, threads: int, max_seconds: int
) -> ClientRun:
    """Drive with wrk and webhooks_wrk.lua; stop as soon as every request is answered."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit(WRK_INSTALL_HINT)
    threads = max(1, min(threads, connections))
    with tempfile.TemporaryDirectory(prefix="pressroom-wrk-") as tmp:
        data, lengths = _write_requests(requests, Path(tmp))
        cmd = [
            wrk, "-t", str(threads), "-c", str(connections), "-d", f"{max_seconds}s",
            "--timeout", "60s", "-s", str(LUA_SCRIPT), url,
            "--", str(data), str(lengths), str(threads),
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        output: list[str] = []
        done = 0
        for line in proc.stdout:
            output.append(line)
            if line.startswith("thread-done"):
                done += 1
                if done == threads:
                    proc.send_signal(signal.SIGINT)  # ends wrk's -d sleep: done() runs now
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    result = next((line for line in output if line.startswith("wrk-result")), None)
    if result is None:
        raise SystemExit("wrk printed no result:\n" + "".join(output))
    fields = dict(item.split("=", 1) for item in result.split()[1:])
    run = ClientRun(
        client=f"wrk ({threads} thread{'s' if threads > 1 else ''}, {connections} connections)",
        answered=int(fields["answered"]),
        non_200=int(fields["non200"]),
        processed=int(fields["processed"]),
        duplicate=int(fields["duplicate"]),
        elapsed_s=float(fields["elapsed"]),
        p50_ms=int(fields["p50_us"]) / 1000,
        p99_ms=int(fields["p99_us"]) / 1000,
        max_ms=int(fields["max_us"]) / 1000,
        client_cpu_s=usage.ru_utime + usage.ru_stime,
    )
    if int(fields["socket_errors"]):
        run.notes.append(f"wrk socket errors: {fields['socket_errors']}")
    if done < threads:
        run.elapsed_s = 0.0  # no rate: not every delivery was answered
        run.notes.append(f"wrk stopped after {max_seconds} s before every answer came")
    return run


async def _drive(
    host: str, port: int, requests: list[bytes], connections: int, run: ClientRun
) -> list[float]:
    latencies: list[float] = []
    pending = iter(requests)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for request in pending:
                start = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                match = _CONTENT_LENGTH.search(head)
                body = await reader.readexactly(int(match.group(1)) if match else 0)
                latencies.append(time.perf_counter() - start)
                run.answered += 1
                if head[9:12] != b"200":
                    run.non_200 += 1
                elif b'"outcome":"processed"' in body:
                    run.processed += 1
                elif b'"outcome":"duplicate"' in body:
                    run.duplicate += 1
                else:
                    run.non_200 += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    run.elapsed_s = time.perf_counter() - started
    return latencies


def run_python(host: str, port: int, requests: list[bytes], *, connections: int) -> ClientRun:
    """The fallback: raw HTTP/1.1 over asyncio streams in this process (uvloop if present)."""
    run = ClientRun(client=f"asyncio raw sockets ({connections} connections)")
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    try:
        import uvloop

        latencies = uvloop.run(_drive(host, port, requests, connections, run))
    except ImportError:
        latencies = asyncio.run(_drive(host, port, requests, connections, run))
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    run.client_cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    ms = sorted(x * 1000 for x in latencies)
    if ms:
        run.p50_ms, run.p99_ms, run.max_ms = ms[len(ms) // 2], ms[int(len(ms) * 0.99)], ms[-1]
    return run
