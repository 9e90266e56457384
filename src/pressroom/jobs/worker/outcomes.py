"""What became of a claimed job, as the worker reports it (logs, metrics)."""

from __future__ import annotations

import enum


class Outcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    RETRIED = "retried"  # back in the queue after the retry policy's delay
    FAILED = "failed"
    CANCELED = "canceled"
    LOST = "lost"  # the lease was taken over (or handed back on shutdown): nothing written
    ERROR = "error"  # a bug of ours or a failed write: nothing written, the lease expires

    @classmethod
    def from_status(cls, status: str) -> Outcome:
        """The outcome a job's new status in the database stands for."""
        return {"queued": cls.RETRIED}.get(status) or cls(status)
