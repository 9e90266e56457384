"""Where the worker's rules come from: concurrency limits and the runner."""

from __future__ import annotations

from pressroom.config import Settings
from pressroom.jobs.queue import ConcurrencyPolicy
from pressroom.jobs.runner import Runner, echo_runner, noop_runner


def concurrency_policy() -> ConcurrencyPolicy:
    return ConcurrencyPolicy(max_running_by_plan={}, default_max_running=4)


def runner_for(settings: Settings) -> Runner:
    if settings.worker_runner == "noop":
        return noop_runner
    if settings.worker_runner == "echo":
        return echo_runner
    from pressroom.jobs.engine_runner import engine_runner

    return engine_runner(settings)
