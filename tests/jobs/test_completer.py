"""The completer's fused transaction: outcomes recorded and next jobs claimed in one commit."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text

from pressroom.db.session import make_engine
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.jobs import queue
from pressroom.jobs.queue import ConcurrencyPolicy, Success
from pressroom.jobs.worker.completer import Completer
from pressroom.jobs.worker.inflight import Finished, InFlight, InFlightTable
from pressroom.jobs.worker.outcomes import Outcome
from tests.factories import connect, job_status, make_jobs, make_org

POLICY = ConcurrencyPolicy(max_running_by_plan={}, default_max_running=3)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=4)
    # These tests play the worker: its engine's standing duty.
    yield system_engine(engine, SystemDuty.WORKER)
    engine.dispose()


_FAIL_AT_COMMIT = """
CREATE TABLE fail_at_commit (x int);
CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'failing at commit'; END $$;
CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON fail_at_commit
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit();
"""


def _claim_into(inflight: InFlightTable, fail: bool = False):  # type: ignore[no-untyped-def]
    def claim_in(conn: Connection, recorded: int) -> list[InFlight]:
        claims = queue.claim(conn, worker_id="w", limit=recorded, lease_seconds=30, policy=POLICY)
        entries = [InFlight(c, threading.Event()) for c in claims]
        for entry in entries:
            inflight.add(entry)
        if fail:  # the COMMIT fails, after the claim returned
            conn.execute(text("INSERT INTO fail_at_commit VALUES (1)"))
        return entries

    return claim_in


def _finished_batch(engine: Engine, inflight: InFlightTable) -> list[Finished]:
    with engine.begin() as conn:
        claims = queue.claim(conn, worker_id="w", limit=3, lease_seconds=30, policy=POLICY)
    batch = []
    for c in claims:
        entry = InFlight(c, threading.Event())
        inflight.add(entry)
        inflight.finished_running()
        batch.append(Finished(entry, Outcome.SUCCEEDED, success=Success(c, [])))
    return batch


class TestFusedCompleteAndClaim:
    def test_the_batch_is_recorded_and_the_freed_slots_claimed_then_started(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            org = make_org(db)
            make_jobs(db, org, 6)
        inflight = InFlightTable()
        started: list[InFlight] = []
        completer = Completer(engine, inflight, _claim_into(inflight), started.extend)
        batch = _finished_batch(engine, inflight)
        completer.record(batch)
        assert len(started) == 3  # the org's whole limit, freed by the batch
        assert inflight.counts() == (3, 3)  # the batch forgotten, the new claims in flight
        with connect(database_url) as db:
            assert {job_status(db, f.entry.claim.id) for f in batch} == {"succeeded"}
            assert {job_status(db, e.claim.id) for e in started} == {"running"}

    def test_a_failed_transaction_claims_nothing_and_records_each_outcome_alone(
        self, engine: Engine, database_url: str
    ) -> None:
        with connect(database_url) as db:
            org = make_org(db)
            queued = make_jobs(db, org, 6)
            db.execute(_FAIL_AT_COMMIT)
        inflight = InFlightTable()
        started: list[InFlight] = []
        completer = Completer(engine, inflight, _claim_into(inflight, fail=True), started.extend)
        batch = _finished_batch(engine, inflight)
        completer.record(batch)
        assert started == []
        assert inflight.counts() == (0, 0)  # the rolled-back claims hold no slot
        batch_ids = {f.entry.claim.id for f in batch}
        with connect(database_url) as db:
            assert {job_status(db, j) for j in batch_ids} == {"succeeded"}
            assert {job_status(db, j) for j in queued if j not in batch_ids} == {"queued"}
