"""`pressroom worker` killed with SIGKILL in the middle of deliveries: every event still
arrives, at least once, with the same id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from pressroom.db.session import make_engine
from pressroom.db.tenancy import SystemDuty, system_engine
from tests.factories import connect, make_org
from tests.outbound import Receiver, wait_until
from tests.outbox.test_outbox import fill, make_endpoint

EVENTS = 12


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    e = make_engine(database_url, pool_size=2)
    yield system_engine(e, SystemDuty.MAINTENANCE)  # the test reads every org's deliveries
    e.dispose()


def start_worker(database_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PRESSROOM_WORKER_RUNNER": "noop",
        "PRESSROOM_OUTBOX_POLL_INTERVAL": "0.05",
        "PRESSROOM_OUTBOX_LEASE_SECONDS": "2",
        "PRESSROOM_OUTBOX_RETRY_BASE_SECONDS": "0.2",
        "PRESSROOM_OUTBOX_RETRY_MAX_DELAY_SECONDS": "0.5",
        # Longer than the lease on purpose: the hung requests outlive the killed worker.
        "PRESSROOM_WEBHOOK_TIMEOUT_SECONDS": "30",
    }
    env.pop("PRESSROOM_DATABASE_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "pressroom.cli", "worker", "--concurrency", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def statuses(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            status: count
            for status, count in conn.execute(
                text(
                    "SELECT status, count(*) FROM outbox_messages WHERE channel = 'webhook'"
                    " GROUP BY status"
                )
            )
        }


class TestKilledMidDelivery:
    def test_nothing_is_lost_and_the_interrupted_ones_arrive_again(
        self, engine: Engine, database_url: str
    ) -> None:
        receiver = Receiver().start()
        receiver.mode = "hang"  # the first worker's requests never get an answer
        procs: list[subprocess.Popen[bytes]] = []
        try:
            with connect(database_url) as conn:
                org = make_org(conn)
            receiver.secrets = [make_endpoint(database_url, org, receiver.url)]
            fill(engine, org, EVENTS)
            procs.append(start_worker(database_url))
            wait_until(lambda: len(receiver.received) >= 2, timeout=30)
            interrupted = {r.headers["webhook-id"] for r in receiver.received}
            os.kill(procs[0].pid, signal.SIGKILL)
            procs[0].wait()
            assert statuses(engine).get("delivering", 0) >= 2  # leases held by the dead
            receiver.mode = "ok"
            receiver.release.set()
            procs.append(start_worker(database_url))
            wait_until(lambda: statuses(engine) == {"delivered": EVENTS}, timeout=60)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
            receiver.stop()
        with engine.connect() as conn:
            event_ids = {
                str(e)
                for e in conn.execute(
                    text("SELECT event_id FROM outbox_messages WHERE channel = 'webhook'")
                ).scalars()
            }
        verified = [r for r in receiver.received if r.verified_by]
        assert len(verified) == len(receiver.received)
        arrived = [r.headers["webhook-id"] for r in verified]
        assert set(arrived) == event_ids  # every event arrived
        for event_id in interrupted:  # ... and those cut off arrived again, same id
            assert arrived.count(event_id) >= 2
        assert all(uuid.UUID(e) for e in arrived)
