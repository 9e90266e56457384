"""Where the worker's rules come from: concurrency limits and the runner."""

from __future__ import annotations

from pressroom.billing.plans import FREE_PLAN, PlanCatalog, get_catalog
from pressroom.config import Settings
from pressroom.jobs.queue import ConcurrencyPolicy
from pressroom.jobs.runner import Runner, echo_runner, noop_runner


def concurrency_policy(catalog: PlanCatalog | None = None) -> ConcurrencyPolicy:
    """Each plan's `max_concurrent_jobs`; orgs without a live subscription get free's."""
    catalog = catalog or get_catalog()
    return ConcurrencyPolicy(
        max_running_by_plan={name: p.max_concurrent_jobs for name, p in catalog.plans.items()},
        default_max_running=catalog.plans[FREE_PLAN].max_concurrent_jobs,
    )


def runner_for(settings: Settings) -> Runner:
    if settings.worker_runner == "noop":
        return noop_runner
    if settings.worker_runner == "echo":
        return echo_runner
    from pressroom.jobs.engine_runner import engine_runner

    return engine_runner(settings)
