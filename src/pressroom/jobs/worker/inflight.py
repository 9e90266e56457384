"""The worker's claimed jobs, shared by the claim loop, the completer and maintenance."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection

from pressroom.jobs.queue import Claim, Success
from pressroom.jobs.worker.outcomes import Outcome


@dataclass
class InFlight:
    claim: Claim
    stop: threading.Event  # set on cancellation request, lost lease or shutdown
    claimed_at: float = field(default_factory=time.perf_counter)
    lost: bool = False
    cancel_requested: bool = False
    released: bool = False

    def request_cancel(self) -> None:
        self.cancel_requested = True
        self.stop.set()


@dataclass(frozen=True)
class Finished:
    """A run's outcome, waiting for the completer: a success to write in bulk, or another
    outcome's own write (both under the lease token; the write returns the job's new
    status, None if the lease was lost), or nothing to write."""

    entry: InFlight
    outcome: Outcome
    success: Success | None = None
    write: Callable[[Connection], str | None] | None = None


class InFlightTable:
    """Claimed jobs whose outcome is not written yet, and how many of them still run."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.wake = threading.Event()  # a NOTIFY arrived or slots were freed
        self._entries: dict[uuid.UUID, InFlight] = {}
        self._executing = 0

    def add(self, entry: InFlight) -> None:
        with self.lock:
            self._entries[entry.claim.id] = entry
            self._executing += 1

    def finished_running(self) -> None:
        with self.lock:
            self._executing -= 1
        self.wake.set()

    def discard(self, entries: list[InFlight]) -> None:
        """Undo `add` for claims whose transaction did not commit (they never ran)."""
        with self.lock:
            for entry in entries:
                if self._entries.pop(entry.claim.id, None) is not None:
                    self._executing -= 1
        self.wake.set()

    def forget(self, job_ids: list[uuid.UUID]) -> None:
        with self.lock:
            for job_id in job_ids:
                self._entries.pop(job_id, None)
        self.wake.set()

    def get(self, job_id: uuid.UUID) -> InFlight | None:
        with self.lock:
            return self._entries.get(job_id)

    def entries(self) -> list[InFlight]:
        with self.lock:
            return list(self._entries.values())

    def counts(self) -> tuple[int, int]:
        """(claimed and not yet recorded, of those still running)."""
        with self.lock:
            return len(self._entries), self._executing
