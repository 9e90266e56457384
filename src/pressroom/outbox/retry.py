"""When a failed delivery is tried again, and when it is given up (dead)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from pressroom.config import Settings


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 10.0
    max_delay_seconds: float = 3 * 3600.0
    window_seconds: float = 24 * 3600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            base_seconds=settings.outbox_retry_base_seconds,
            max_delay_seconds=settings.outbox_retry_max_delay_seconds,
            window_seconds=settings.outbox_retry_window_seconds,
        )

    def delay(self, attempt: int) -> float:
        """Seconds before the next try after `attempt` failed tries: exponential, capped,
        with "equal jitter" (uniform in [c/2, c]) so a crowd of failures spreads out."""
        ceiling = min(self.max_delay_seconds, self.base_seconds * 2 ** max(attempt - 1, 0))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - not crypto

    def next_try(self, attempt: int, age_seconds: float) -> float | None:
        """The delay before another try, or None when the next one would fall outside the
        retry window (counted from the event, or from its replay)."""
        delay = self.delay(attempt)
        return None if age_seconds + delay > self.window_seconds else delay
