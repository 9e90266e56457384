"""The outcome recorder (River's jobcompleter): writes finished runs' outcomes in batches.

Finished jobs are handed to one thread, which writes all the outcomes waiting for it in
one transaction (each still guarded by its own lease token) and, in that same
transaction, claims the next jobs for the worker's free threads: a burst of short jobs
costs one commit per batch of outcomes and claims, not one per job plus one per claim.
A job keeps its lease (and its org's slot) until its outcome is written; the claim runs
after the writes in the transaction, so it sees those slots free and the limits hold.
Every outcome is logged once: job id, kind, duration, outcome.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from queue import Empty, SimpleQueue

from sqlalchemy import Connection, Engine

from pressroom.jobs import metrics, queue
from pressroom.jobs.worker.inflight import Finished, InFlight, InFlightTable
from pressroom.jobs.worker.outcomes import Outcome

log = logging.getLogger("pressroom.worker")

# Outcomes written per transaction, at most.
_MAX_BATCH = 256


# Claims jobs in the given transaction, `recorded` outcomes being written in it (the
# worker's claim); the claims are counted in flight at once and started by `start` only
# after the transaction commits.
ClaimIn = Callable[[Connection, int], list[InFlight]]


class Completer:
    def __init__(
        self,
        engine: Engine,
        inflight: InFlightTable,
        claim_in: ClaimIn | None = None,
        start: Callable[[list[InFlight]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.inflight = inflight
        self.claim_in = claim_in
        self.start = start
        self._finished: SimpleQueue[Finished] = SimpleQueue()

    def put(self, finished: Finished) -> None:
        self._finished.put(finished)

    def run(self) -> None:
        while True:
            batch = [self._finished.get()]
            while len(batch) < _MAX_BATCH:
                try:
                    batch.append(self._finished.get_nowait())
                except Empty:
                    break
            try:
                self.record(batch)
            except Exception:  # never let the completer die: those leases just expire
                log.exception("recording %d outcomes failed", len(batch))
                self._done({f.entry.claim.id: Outcome.ERROR for f in batch}, batch)

    def record(self, batch: Sequence[Finished]) -> None:
        """Write the batch in one transaction; if that fails, each outcome on its own, so
        one bad write can't take the others down with it."""
        todo = [
            f for f in batch if (f.success or f.write) and not (f.entry.lost or f.entry.released)
        ]
        written: dict[uuid.UUID, Outcome] = {}
        failed: set[uuid.UUID] = set()
        claimed: list[InFlight] = []
        try:
            if todo:
                with self.engine.begin() as conn:
                    written = self._write(conn, todo)
                    if self.claim_in is not None:
                        claimed = self.claim_in(conn, len(batch))
        except Exception:
            self.inflight.discard(claimed)  # rolled back with the outcomes: never ran
            claimed = []
            if len(todo) == 1:
                raise
            for f in todo:
                try:
                    with self.engine.begin() as conn:
                        written |= self._write(conn, [f])
                except Exception:
                    log.exception("recording the outcome of job %s failed", f.entry.claim.id)
                    failed.add(f.entry.claim.id)
        outcomes: dict[uuid.UUID, Outcome] = {}
        for f in batch:
            job_id = f.entry.claim.id
            if f.outcome in (Outcome.ERROR, Outcome.LOST):
                outcomes[job_id] = f.outcome
            elif job_id in written:
                outcomes[job_id] = written[job_id]
            else:  # the lease was lost (or released on shutdown), or the write failed
                outcomes[job_id] = Outcome.ERROR if job_id in failed else Outcome.LOST
        if claimed and self.start is not None:
            self.start(claimed)
        self._done(outcomes, batch)

    @staticmethod
    def _write(conn: Connection, todo: Sequence[Finished]) -> dict[uuid.UUID, Outcome]:
        """The outcomes as written: the database may say `canceled` where the run ended
        otherwise (a cancellation requested meanwhile wins)."""
        statuses = queue.complete_many(conn, [f.success for f in todo if f.success])
        written = {job_id: Outcome.from_status(s) for job_id, s in statuses.items()}
        for f in todo:
            if f.write is not None and (status := f.write(conn)) is not None:
                written[f.entry.claim.id] = Outcome.from_status(status)
        return written

    def _done(self, outcomes: dict[uuid.UUID, Outcome], batch: Sequence[Finished]) -> None:
        """Done with these jobs: their outcome is in the database (or never will be)."""
        now = time.perf_counter()
        self.inflight.forget(list(outcomes))
        for f in batch:
            claim, outcome = f.entry.claim, outcomes[f.entry.claim.id]
            duration = now - f.entry.claimed_at
            metrics.JOB_DURATION.labels(claim.kind, outcome.value).observe(duration)
            metrics.JOBS_FINISHED.labels(outcome.value).inc()
            log.info(
                "job %s kind=%s attempt=%d outcome=%s duration=%.3fs",
                claim.id,
                claim.kind,
                claim.attempts,
                outcome.value,
                duration,
            )
