"""What a worker does with a claimed job, behind one small interface."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from pressroom.jobs.queue import ArtifactRow, Claim


class JobFailed(Exception):
    """An attempt failed. `retryable`: worth another attempt (timeouts, 429/5xx).
    `refundable`: the fault was ours, not the input's, so the quota unit goes back."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        refundable: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.refundable = refundable
        self.retry_after = retry_after  # seconds an upstream asked us to wait


class Canceled(Exception):
    """The runner noticed a cancellation request and stopped early."""


@dataclass(frozen=True)
class RunResult:
    artifacts: list[ArtifactRow]
    usage: dict[str, Any] | None = field(default=None)


ShouldStop = Callable[[], bool]


class Runner(Protocol):
    def __call__(self, claim: Claim, should_stop: ShouldStop) -> RunResult: ...


def noop_runner(claim: Claim, should_stop: ShouldStop) -> RunResult:
    """Does nothing and succeeds: for measuring the queue itself."""
    return RunResult(artifacts=[])


def echo_runner(claim: Claim, should_stop: ShouldStop) -> RunResult:
    """Returns the job's input as one artifact, after `input["sleep_seconds"]` if given
    (stopping early on cancellation): for smoke, shutdown and crash tests of the queue."""
    deadline = time.monotonic() + float(claim.input.get("sleep_seconds", 0))
    while time.monotonic() < deadline:
        if should_stop():
            raise Canceled()
        time.sleep(0.02)
    body = json.dumps(claim.input, sort_keys=True)
    return RunResult(artifacts=[ArtifactRow("echo", "application/json", body)])
