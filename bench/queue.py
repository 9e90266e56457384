"""Queue benchmark: our `pressroom worker` against pgqueuer and procrastinate, on one server.

    python -m bench.queue [--jobs 50000] [--latency-samples 200] [--processes 1,4]

Give it a server of its own (PRESSROOM_DATA_DIR=/tmp/bench-pg starts a private embedded
one): a long transaction anywhere on the server holds back the cleanup of the queue's dead
index entries and slows every claim (docs/queue.md, "Benchmark").

For each queue and each number of worker processes, on a fresh database cloned from a
freshly migrated template (our migrations / procrastinate's schema):

* burn-down: start K idle worker processes (no-op jobs) and wait until each one LISTENs;
  insert N jobs in ONE transaction (COPY, with the wake-up NOTIFY the producer sends);
  throughput = N / (last job's finish - that commit). The finish time is stamped by the
  database (our `finished_at`, procrastinate's 'succeeded' event; both `now()` of the
  completing transaction), the commit time by the client right after COMMIT returns,
  translated to the server's clock (offset measured with clock_timestamp() round trips).
* idle pick-up latency: with the same K workers idle, insert one job per transaction (with
  its NOTIFY), commit, and take commit -> claim: the claim is stamped by an AFTER UPDATE
  trigger writing clock_timestamp() when the row turns running/doing (installed for this
  phase only). Next sample once the job finished plus an idle gap of 20-50 ms.

Jobs are spread evenly over `--orgs` organizations, each on an active 'business'
subscription; see queue_systems.BENCH_PLAN for why the per-org limits don't throttle.
The results table is printed and written into docs/queue.md between the bench markers.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from bench.indexes.markers import write_between_markers
from bench.queue_systems import SYSTEMS, Conn, System
from pressroom.db import admin
from pressroom.db.url import resolve_database_url, to_libpq_url

DOC = Path(__file__).resolve().parent.parent / "docs" / "queue.md"


@dataclass(frozen=True)
class Result:
    system: str
    processes: int
    concurrency: int
    jobs: int
    succeeded: int
    max_attempts: int
    burn_down_seconds: float
    latencies_ms: list[float]

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.burn_down_seconds if self.burn_down_seconds > 0 else 0.0

    def latency(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (p99 of 200 samples is the 198th smallest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, int(-(-q * len(ordered) // 100)))  # ceil(q/100 * n)
    return ordered[rank - 1]


def connect(url: str) -> Conn:
    return psycopg.connect(to_libpq_url(url), autocommit=True)


def clock_offset(conn: Conn, rounds: int = 20) -> float:
    """Server clock minus client clock, in seconds (best of a few round trips)."""
    best: tuple[float, float] | None = None
    for _ in range(rounds):
        before = time.time()
        row = conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()
        after = time.time()
        assert row is not None
        rtt = after - before
        if best is None or rtt < best[0]:
            best = (rtt, float(row[0]) - (before + after) / 2)
    assert best is not None
    return best[1]


class Workers:
    """K worker subprocesses; their stderr goes to a temp file, shown if one dies."""

    def __init__(self, system: System, url: str, processes: int, concurrency: int) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{system.name}-", suffix=".log")  # noqa: SIM115
        env = system.worker_env(url, concurrency)
        self.procs = [
            subprocess.Popen(
                system.worker_command(concurrency),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=self.log,
                cwd=Path(__file__).resolve().parent.parent,
            )
            for _ in range(processes)
        ]

    def check_alive(self) -> None:
        dead = [p.returncode for p in self.procs if p.poll() is not None]
        if dead:
            self.log.flush()
            tail = Path(self.log.name).read_text(errors="replace")[-3000:]
            raise RuntimeError(f"a worker exited with {dead[0]}:\n{tail}")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.log.close()


def wait_until_listening(
    system: System, conn: Conn, workers: Workers, timeout: float = 60.0
) -> None:
    """Every worker process listens for new jobs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers.check_alive()
        if system.listening(conn) >= len(workers.procs):
            time.sleep(0.5)  # let each finish its start-up round (rescue, first empty claim)
            return
        time.sleep(0.05)
    raise TimeoutError("workers did not start listening")


@contextmanager
def profiled(system: System, workers: Workers) -> Iterator[None]:
    """With BENCH_PROFILE=<dir>, py-spy samples every worker during the burn-down and
    writes collapsed stacks (<dir>/<queue>-<processes>p-<i>.txt, non-idle samples only)."""
    out = os.environ.get("BENCH_PROFILE")
    if not out:
        yield
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    spies = [
        subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--pid",
                str(p.pid),
                "--format",
                "raw",
                "--nonblocking",
                "--rate",
                "250",
                "--output",
                f"{out}/{system.name}-{len(workers.procs)}p-{i}.txt",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i, p in enumerate(workers.procs)
    ]
    time.sleep(0.5)  # attached before the jobs arrive
    try:
        yield
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for spy in spies:
            spy.wait(timeout=30)


def burn_down(system: System, conn: Conn, workers: Workers, jobs: int, offset: float) -> float:
    with profiled(system, workers):
        return _burn_down(system, conn, workers, jobs, offset)


def _burn_down(system: System, conn: Conn, workers: Workers, jobs: int, offset: float) -> float:
    system.insert_jobs(conn, jobs)
    committed = time.time() + offset
    deadline = time.monotonic() + max(120.0, jobs / 50)
    while system.unfinished(conn):
        workers.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{system.name}: {system.unfinished(conn)} jobs left")
        time.sleep(0.2)
    last = system.outcome(conn).last_finished
    return last.timestamp() - committed if last else 0.0


def pickup_latencies(
    system: System, conn: Conn, workers: Workers, samples: int, offset: float
) -> list[float]:
    system.install_pickup_trigger(conn)
    rng = random.Random(1)
    latencies: list[float] = []
    for _ in range(samples):
        job = system.insert_one(conn)
        committed = time.time() + offset
        deadline = time.monotonic() + 30
        claimed: datetime | None = None
        while claimed is None:
            row = conn.execute(
                "SELECT claimed_at FROM bench_pickups WHERE job = %s", (job,)
            ).fetchone()
            if row:
                claimed = row[0]
            elif time.monotonic() > deadline:
                workers.check_alive()
                raise TimeoutError(f"{system.name}: job {job} not picked up")
            else:
                time.sleep(0.002)
        latencies.append((claimed.timestamp() - committed) * 1000)
        while not system.is_finished(conn, job):
            time.sleep(0.002)
        time.sleep(rng.uniform(0.02, 0.05))  # the workers go back to waiting on LISTEN
    return latencies


@contextmanager
def fresh_database(server_url: str, prefix: str, template: str | None = None) -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    url = admin.create_database(server_url, name, template=template)
    try:
        yield url
    finally:
        admin.drop_database(server_url, name)


def run_one(
    system: System,
    url: str,
    *,
    jobs: int,
    processes: int,
    concurrency: int,
    orgs: int,
    latency_samples: int,
) -> Result:
    """One measurement on the (fresh, prepared) database at `url`."""
    with connect(url) as conn:
        system.seed(conn, orgs)
        conn.execute("ANALYZE")
        workers = Workers(system, url, processes, concurrency)
        try:
            wait_until_listening(system, conn, workers)
            offset = clock_offset(conn)
            seconds = burn_down(system, conn, workers, jobs, offset)
            outcome = system.outcome(conn)
            latencies = pickup_latencies(system, conn, workers, latency_samples, offset)
        finally:
            workers.stop()
    return Result(
        system.name,
        processes,
        concurrency,
        jobs,
        outcome.succeeded,
        outcome.max_attempts,
        seconds,
        latencies,
    )


def run_all(
    server_url: str,
    systems: Sequence[System],
    *,
    jobs: int,
    process_counts: Sequence[int],
    concurrency: int,
    orgs: int,
    latency_samples: int,
) -> list[Result]:
    results = []
    for system in systems:
        with fresh_database(server_url, f"bench_{system.name}_template") as template_url:
            system.prepare(template_url)
            template = template_url.rsplit("/", 1)[1].split("?", 1)[0]
            for processes in process_counts:
                with fresh_database(server_url, f"bench_{system.name}", template) as url:
                    result = run_one(
                        system,
                        url,
                        jobs=jobs,
                        processes=processes,
                        concurrency=concurrency,
                        orgs=orgs,
                        latency_samples=latency_samples,
                    )
                print(f"  {describe(result)}", flush=True)
                results.append(result)
    return results


def describe(r: Result) -> str:
    return (
        f"{r.system}: {r.processes} x {r.concurrency}: {r.jobs_per_second:,.0f} jobs/s "
        f"({r.succeeded}/{r.jobs} succeeded in {r.burn_down_seconds:.2f} s), pick-up "
        f"p50 {r.latency(50):.1f} ms p99 {r.latency(99):.1f} ms"
    )


def table(results: Sequence[Result]) -> str:
    lines = [
        "| queue | processes x concurrency | burn-down (s) | jobs/s | pick-up p50 (ms) "
        "| pick-up p99 (ms) |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.system} | {r.processes} x {r.concurrency} | {r.burn_down_seconds:.2f} "
            f"| {r.jobs_per_second:,.0f} | {r.latency(50):.1f} | {r.latency(99):.1f} |"
        )
    by_key = {(r.system, r.processes): r for r in results}
    for processes in sorted({r.processes for r in results}):
        ours = by_key.get(("pressroom", processes))
        others = [r for r in results if r.processes == processes and r.system != "pressroom"]
        if ours and others:
            lines.append("")
            lines.append(
                f"{processes} process(es): pressroom burns down "
                + "; ".join(
                    f"{ours.jobs_per_second / r.jobs_per_second:.1f}x as fast as {r.system}"
                    f" (pick-up p50 {ours.latency(50):.1f} vs {r.latency(50):.1f} ms)"
                    for r in others
                    if r.jobs_per_second
                )
                + "."
            )
    return "\n".join(lines)


def environment(server_url: str, systems: Sequence[System], load_before: float) -> str:
    with connect(server_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        fsync = conn.execute("SHOW fsync").fetchone()
        sync = conn.execute("SHOW synchronous_commit").fetchone()
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1).strip() if found else cpu
    server = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded"
    return (
        f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}. PostgreSQL {row[0] if row else '?'} "
        f"({server}, on the same machine; fsync={fsync[0] if fsync else '?'}, "
        f"synchronous_commit={sync[0] if sync else '?'}). "
        f"Load average (1 min) {load_before:.1f} before the run, {os.getloadavg()[0]:.1f} after "
        "(other work on the machine shares its cores). "
        + ", ".join(s.version() for s in systems)
        + "."
    )


def write_doc(text: str) -> None:
    write_between_markers(DOC, "queue", text, title="The job queue")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.queue", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--processes", default="1,4", help="worker process counts to run")
    parser.add_argument("--concurrency", type=int, default=64, help="jobs at once per process")
    parser.add_argument("--orgs", type=int, default=100)
    parser.add_argument("--queues", default="pressroom,pgqueuer,procrastinate")
    parser.add_argument("--no-doc", action="store_true", help="don't update docs/queue.md")
    args = parser.parse_args(argv)
    systems: list[System] = [SYSTEMS[name]() for name in args.queues.split(",")]
    server_url = resolve_database_url()
    command = "python -m bench.queue " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"{command.strip()}: {args.jobs} no-op jobs, {args.latency_samples} pick-ups", flush=True)
    load_before = os.getloadavg()[0]
    results = run_all(
        server_url,
        systems,
        jobs=args.jobs,
        process_counts=[int(p) for p in args.processes.split(",")],
        concurrency=args.concurrency,
        orgs=args.orgs,
        latency_samples=args.latency_samples,
    )
    report = "\n\n".join(
        [
            f"`{command.strip()}` ({datetime.now().date()}), {args.jobs:,} jobs over "
            f"{args.orgs} orgs, {args.latency_samples} pick-up samples.",
            environment(server_url, systems, load_before),
            table(results),
        ]
    )
    print()
    print(report)
    if not args.no_doc:
        write_doc(report)


if __name__ == "__main__":
    main()
