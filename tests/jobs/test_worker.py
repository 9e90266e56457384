"""Worker processes: run jobs, honour cancellation and SIGTERM, survive a dropped database
connection, and lose or duplicate nothing when killed with SIGKILL again and again."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.factories import connect, job_status, make_jobs, make_org


class WorkerProcesses:
    def __init__(self, database_url: str, **settings: str) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "PRESSROOM_WORKER_RUNNER": "echo",
            "PRESSROOM_WORKER_LEASE_SECONDS": "1.5",
            "PRESSROOM_WORKER_RESCUE_INTERVAL": "0.3",
            "PRESSROOM_WORKER_POLL_INTERVAL": "0.2",
            **{f"PRESSROOM_{k.upper()}": v for k, v in settings.items()},
        }
        self.env.pop("PRESSROOM_DATABASE_URL", None)
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, concurrency: int = 4) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pressroom.cli", "worker", "--concurrency", str(concurrency)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


@pytest.fixture
def workers(database_url: str) -> Iterator[Callable[..., WorkerProcesses]]:
    made: list[WorkerProcesses] = []

    def make(**settings: str) -> WorkerProcesses:
        made.append(WorkerProcesses(database_url, **settings))
        return made[-1]

    yield make
    for w in made:
        w.stop_all()


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def set_input(database_url: str, job_id: uuid.UUID, data: dict[str, Any]) -> None:
    with connect(database_url) as db:
        db.execute("UPDATE content_jobs SET input = %s WHERE id = %s", (json.dumps(data), job_id))


class TestRunsJobs:
    def test_queued_job_is_picked_up_and_succeeds(
        self, database_url: str, workers: Callable[..., WorkerProcesses]
    ) -> None:
        w = workers()
        w.start()
        with connect(database_url) as db:
            (job,) = make_jobs(db, make_org(db))
            db.execute("NOTIFY pressroom_jobs")
            wait_for(lambda: job_status(db, job) == "succeeded")
            artifacts = db.execute(
                "SELECT type FROM content_artifacts WHERE job_id = %s", (job,)
            ).fetchall()
        assert artifacts == [("echo",)]


class TestGenerationEngine:
    def test_real_article_becomes_artifacts(
        self, database_url: str, workers: Callable[..., WorkerProcesses]
    ) -> None:
        article = (
            "Heat pumps move heat instead of making it. In winter a heat pump pulls warmth "
            "from outdoor air and releases it indoors; in summer it runs in reverse. Because "
            "it moves heat rather than burning fuel, a heat pump can deliver three units of "
            "heat for every unit of electricity. Installers say the biggest mistake is an "
            "undersized unit. Good insulation matters as much as the heat pump itself."
        )
        with connect(database_url) as db:
            org = make_org(db)
            good, bad = make_jobs(db, org, 2, kind="key_points")
        set_input(database_url, good, {"text": article})
        set_input(database_url, bad, {"text": "#### $$$$ %%%% ^^^^ &&&& **** !!!!"})
        workers(worker_runner="engine").start()
        with connect(database_url) as db:
            wait_for(lambda: job_status(db, good) == "succeeded")
            wait_for(lambda: job_status(db, bad) == "failed")
            (content,) = db.execute(
                "SELECT content FROM content_artifacts WHERE job_id = %s AND type = 'key_points'",
                (good,),
            ).fetchone()  # type: ignore[misc]
            refunded = db.execute(
                "SELECT quota_refunded_at FROM content_jobs WHERE id = %s", (bad,)
            ).fetchone()
        assert "heat pump" in content.lower()
        assert refunded == (None,)  # unusable input: the work was asked for, no refund


class TestCancellation:
    def test_running_job_is_canceled_cooperatively(
        self, database_url: str, workers: Callable[..., WorkerProcesses]
    ) -> None:
        with connect(database_url) as db:
            (job,) = make_jobs(db, make_org(db))
        set_input(database_url, job, {"sleep_seconds": 30})
        workers().start()
        with connect(database_url) as db:
            wait_for(lambda: job_status(db, job) == "running")
            db.execute("UPDATE content_jobs SET cancel_requested_at = now() WHERE id = %s", (job,))
            wait_for(lambda: job_status(db, job) == "canceled", timeout=20)

    def test_a_cancel_request_stops_the_run_at_once_not_at_the_heartbeat(
        self, database_url: str, workers: Callable[..., WorkerProcesses]
    ) -> None:
        with connect(database_url) as db:
            (job,) = make_jobs(db, make_org(db))
        set_input(database_url, job, {"sleep_seconds": 60})
        workers(worker_lease_seconds="90").start()  # the next heartbeat is 30 s away
        with connect(database_url) as db:
            wait_for(lambda: job_status(db, job) == "running")
            db.execute("UPDATE content_jobs SET cancel_requested_at = now() WHERE id = %s", (job,))
            db.execute("SELECT pg_notify('pressroom_job_cancel', %s)", (str(job),))
            wait_for(lambda: job_status(db, job) == "canceled", timeout=15)

    def test_a_run_that_ends_right_after_the_request_ends_canceled_without_artifacts(
        self, database_url: str, workers: Callable[..., WorkerProcesses]
    ) -> None:
        with connect(database_url) as db:
            (job,) = make_jobs(db, make_org(db))
        set_input(database_url, job, {"sleep_seconds": 1})
        workers(worker_lease_seconds="90").start()
        with connect(database_url) as db:
            wait_for(lambda: job_status(db, job) == "running")
            # No NOTIFY and no heartbeat in time: the run finishes as if nobody asked; the
            # completing write must still see the request.
            db.execute("UPDATE content_jobs SET cancel_requested_at = now() WHERE id = %s", (job,))
            wait_for(lambda: job_status(db, job) not in ("queued", "running"))
            assert job_status(db, job) == "canceled"
            artifacts = db.execute(
                "SELECT count(*) FROM content_artifacts WHERE job_id = %s", (job,)
            ).fetchone()
        assert artifacts == (0,)


class TestLogs:
    def test_an_unmigrated_database_is_reported_once(
        self, empty_database_url: str, tmp_path: Any
    ) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": empty_database_url,
            "PRESSROOM_WORKER_POLL_INTERVAL": "0.2",
            "PRESSROOM_WORKER_RESCUE_INTERVAL": "0.2",
        }
        env.pop("PRESSROOM_DATABASE_URL", None)
        log_path = tmp_path / "worker.log"
        with log_path.open("w") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "pressroom.cli", "worker"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )
            try:
                wait_for(lambda: "never migrated" in log_path.read_text(), timeout=60)
                time.sleep(3.5)  # three more tries, a second apart: said once all the same
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        stderr = log_path.read_text()
        assert stderr.count("never migrated") == 1, stderr
        assert "does not exist" not in stderr

    def test_one_line_per_job_outcome(self, database_url: str) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "PRESSROOM_WORKER_RUNNER": "echo",
            "PRESSROOM_WORKER_POLL_INTERVAL": "0.2",
        }
        env.pop("PRESSROOM_DATABASE_URL", None)
        with connect(database_url) as db:
            jobs = make_jobs(db, make_org(db), 2)
        proc = subprocess.Popen(
            [sys.executable, "-m", "pressroom.cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        with connect(database_url) as db:
            wait_for(lambda: all(job_status(db, j) == "succeeded" for j in jobs))
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
        for job in jobs:
            lines = [line for line in stderr.splitlines() if str(job) in line]
            assert len(lines) == 1, stderr
            assert "kind=summary" in lines[0]
            assert "outcome=succeeded" in lines[0]
            assert "duration=" in lines[0]


class TestGracefulShutdown:
    def test_sigterm_releases_unfinished_jobs_without_burning_an_attempt(
        self, database_url: str, workers: Callable[..., WorkerProcesses]
    ) -> None:
        with connect(database_url) as db:
            # Two orgs: the free plan runs one job at a time per org.
            (slow,) = make_jobs(db, make_org(db, "a"))
            (quick,) = make_jobs(db, make_org(db, "b"))
        set_input(database_url, slow, {"sleep_seconds": 60})
        set_input(database_url, quick, {"sleep_seconds": 1})
        proc = workers(worker_shutdown_grace="3").start()
        with connect(database_url) as db:
            wait_for(lambda: job_status(db, slow) == job_status(db, quick) == "running")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
            assert job_status(db, quick) == "succeeded"
            row = db.execute(
                "SELECT status, attempts, lease_token FROM content_jobs WHERE id = %s", (slow,)
            ).fetchone()
        assert row == ("queued", 0, None)


# Run in a child process: a hang there fails the test instead of hanging the suite.
_SIGNAL_INSIDE_AN_EVENTS_LOCK = """
import os, signal, sys, threading
from pressroom.db.session import make_engine
from pressroom.jobs.queue import ConcurrencyPolicy
from pressroom.jobs.runner import noop_runner
from pressroom.jobs.worker import Worker, WorkerConfig

class SignalledWhileLocked(threading.Event):
    # The first clear() sends SIGTERM and yields while it holds the event's lock: the
    # handler runs on the main thread, and must not find this lock held by that thread.
    sent = False

    def clear(self):
        with self._cond:
            if not SignalledWhileLocked.sent:
                SignalledWhileLocked.sent = True
                os.kill(os.getpid(), signal.SIGTERM)
                sum(range(1000))  # bytecodes: a pending handler runs here
            self._flag = False

engine = make_engine(sys.argv[1], pool_size=3)
worker = Worker(engine, noop_runner, ConcurrencyPolicy({}, 5), WorkerConfig(poll_interval=0.01))
worker.inflight.wake = SignalledWhileLocked()
worker.install_signal_handlers()
worker.run()
print("stopped", SignalledWhileLocked.sent)
"""


class TestSignals:
    def test_sigterm_in_the_middle_of_the_claim_loops_wait_still_stops_the_worker(
        self, database_url: str
    ) -> None:
        proc = subprocess.run(
            [sys.executable, "-c", _SIGNAL_INSIDE_AN_EVENTS_LOCK, database_url],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "stopped True"


class TestDatabaseOutage:
    def test_worker_reconnects_after_its_connections_are_dropped(
        self, database_url: str, workers: Callable[..., WorkerProcesses]
    ) -> None:
        w = workers()
        proc = w.start()
        with connect(database_url) as db:
            first = make_jobs(db, make_org(db))[0]
            wait_for(lambda: job_status(db, first) == "succeeded")
            # What a database restart looks like from the worker's side.
            db.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'pressroom' AND pid <> pg_backend_pid()"
            )
            second = make_jobs(db, make_org(db))[0]
            wait_for(lambda: job_status(db, second) == "succeeded", timeout=30)
        assert proc.poll() is None


class TestCrashSafety:
    def test_sigkill_storm_loses_and_duplicates_nothing(
        self, database_url: str, workers: Callable[..., WorkerProcesses]
    ) -> None:
        rng = random.Random(7)
        with connect(database_url) as db:
            orgs = [make_org(db, f"org{i}") for i in range(10)]
            for org in orgs:  # a plan that runs many jobs at once, so kills hit many
                db.execute(
                    "INSERT INTO subscriptions (id, org_id, provider, provider_subscription_id,"
                    " plan, status) VALUES (gen_random_uuid(), %s, 'stripe', %s, 'business',"
                    " 'active')",
                    (org, f"sub_{org}"),
                )
            jobs = [j for org in orgs for j in make_jobs(db, org, 100)]
            # Each job takes a moment, so every kill lands on jobs in flight.
            db.execute("UPDATE content_jobs SET input = input || '{\"sleep_seconds\": 0.1}'")
        w = workers()
        live = [w.start(concurrency=4) for _ in range(3)]
        with connect(database_url) as db:

            def remaining() -> int:
                row = db.execute(
                    "SELECT count(*) FROM content_jobs WHERE status IN ('queued', 'running')"
                ).fetchone()
                return int(row[0]) if row else 0

            wait_for(lambda: remaining() < len(jobs))  # work is under way
            for _ in range(12):  # the storm: kill -9 a random worker, start another
                time.sleep(rng.uniform(0.2, 0.6))
                victim = live.pop(rng.randrange(len(live)))
                victim.kill()
                victim.wait()
                live.append(w.start(concurrency=4))
            wait_for(lambda: remaining() == 0, timeout=300)
            statuses = dict(
                db.execute("SELECT status, count(*) FROM content_jobs GROUP BY status").fetchall()
            )
            per_job = db.execute(
                "SELECT j.id, count(a.id) FROM content_jobs j"
                " LEFT JOIN content_artifacts a ON a.job_id = j.id GROUP BY j.id"
            ).fetchall()
            rescued = db.execute(
                "SELECT count(*), coalesce(max(attempts), 0) FROM content_jobs"
                " WHERE lease_expiries > 0"
            ).fetchone()
        # The default max_attempts (3): crashes are counted as lease expiries, not attempts.
        assert statuses == {"succeeded": len(jobs)}
        assert {count for _, count in per_job} == {1}
        assert rescued is not None
        assert rescued[0] > 0  # the storm did kill jobs in flight
        assert rescued[1] == 1  # ...and each of them succeeded on its one counted attempt
