"""`pressroom worker`, split by duty as River's worker is: the claim loop (loop), the
outcome recorder (completer), background duties (maintenance: heartbeat, lease rescue),
the outcomes (outcomes) and the one retry policy for failures and rescues (retry_policy)."""

from pressroom.jobs.worker.loop import Worker, WorkerConfig
from pressroom.jobs.worker.outcomes import Outcome
from pressroom.jobs.worker.retry_policy import RetryPolicy

__all__ = ["Outcome", "RetryPolicy", "Worker", "WorkerConfig"]
