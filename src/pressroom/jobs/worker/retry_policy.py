"""One retry policy for the whole queue: when a failed job runs again, and when a job
whose worker died (lease expired) is put back, or given up on.

As River's `retry_policy.go`: exponential backoff with jitter, uniform in [c/2, c] with
c = min(cap, base * 2**(n-1)). Failures are counted in `attempts` (the job's own
`max_attempts`); crashes in `lease_expiries`, against `max_lease_expiries`, so workers
being killed never spends the attempts meant for the job's own failures.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 2.0
    cap_seconds: float = 600.0
    # A job that has killed (or outlived) this many workers is given up on: `failed`.
    max_lease_expiries: int = 5

    def delay(self, attempt: int, *, retry_after: float | None = None) -> float:
        """Seconds before attempt `attempt + 1`, never less than an upstream's Retry-After."""
        if attempt <= 0:
            backoff = 0.0
        else:
            ceiling = min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1))
            backoff = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - not crypto
        return max(backoff, retry_after or 0.0)

    @staticmethod
    def retries_failure(attempts: int, max_attempts: int) -> bool:
        return attempts < max_attempts

    def rescues(self, lease_expiries: int) -> bool:
        """Whether a job whose lease has now expired `lease_expiries` times goes back."""
        return lease_expiries < self.max_lease_expiries

    def rescue_delay(self, lease_expiries: int) -> float:
        """The first rescue is immediate; a job that keeps crashing workers backs off."""
        return self.delay(lease_expiries - 1)
