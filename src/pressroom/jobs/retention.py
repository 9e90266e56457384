"""Retention: a finished job's input and artifacts are kept for its org's plan's
`retention_days` (free 30, pro 90, business 365 by default; the plan catalog sets them),
then its input is blanked (`{}`) and its artifacts deleted, in small batches.

What stays: the job row itself (id, org, kind, status, attempts, error, usage, timestamps,
idempotency key and fingerprint, and `content_pruned_at`), usage counters and billing
events, so history, invoices and quota disputes keep their figures; only the customer's
content goes. The plan that counts is the org's plan at prune time: an upgrade extends
what is still kept, a downgrade shortens it.

Pruning walks orgs in id order from a cursor, a slice of orgs per batch, each org's
oldest expired jobs by the partial index `idx_content_jobs_prunable` (org_id,
finished_at): one index probe per org whatever the rest of the table holds, so a long-lived
plan's young rows are never scanned again and again. Each batch is one short transaction
that locks at most `batch_size` job rows (`SKIP LOCKED`: workers pruning at once take
different rows), then commits, so no lock is long and autovacuum (tuned for this table by
migration 0607bc5b8544) reclaims the space as it goes.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from prometheus_client import Counter
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from pressroom.billing.plans import FREE_PLAN, PlanCatalog, get_catalog
from pressroom.config import get_settings
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.jobs import queue

log = logging.getLogger("pressroom.retention")
PRUNED = Counter("pressroom_retention_pruned_jobs_total", "Finished jobs whose content was pruned.")

_FINISHED = "('succeeded', 'failed', 'canceled')"
# An org's retention in days: the claim's rule for "the org's live plan, else free"
# (queue._ORG_LIMIT), valued from :plan_limits / :default_limit, here days per plan.
_ORG_DAYS = queue._ORG_LIMIT
_EXPIRED = f"""j.content_pruned_at IS NULL AND j.finished_at IS NOT NULL
      AND j.status IN {_FINISHED}
      AND j.finished_at < now() - make_interval(days => {{days}})"""

# The next orgs after the cursor, up to :batch of their oldest expired jobs (locked),
# then their artifacts deleted and their input blanked, in the same statement.
_PRUNE = text(
    f"""
    WITH orgs AS (
        SELECT o.id FROM organizations o WHERE o.id > :after ORDER BY o.id LIMIT :orgs
    ),
    picked AS (
        SELECT p.id FROM orgs o
        CROSS JOIN LATERAL (
            SELECT j.id FROM content_jobs j
            WHERE j.org_id = o.id AND {_EXPIRED.format(days=_ORG_DAYS.format(org="o.id"))}
            ORDER BY j.finished_at
            LIMIT :batch
            FOR UPDATE SKIP LOCKED
        ) p
        LIMIT :batch
    ),
    artifacts AS (
        DELETE FROM content_artifacts a WHERE a.job_id IN (SELECT id FROM picked)
        RETURNING a.size_bytes
    ),
    pruned AS (
        UPDATE content_jobs j SET input = '{{}}'::jsonb, content_pruned_at = now()
        WHERE j.id IN (SELECT id FROM picked)
        RETURNING j.id
    )
    SELECT (SELECT count(*) FROM pruned), (SELECT count(*) FROM artifacts),
           (SELECT COALESCE(sum(size_bytes), 0) FROM artifacts),
           (SELECT max(id::text) FROM orgs)
    """
)

# What a prune would take now, read-only (no locks): for `pressroom jobs prune --dry-run`.
_DRY_RUN = text(
    f"""
    WITH orgs AS (SELECT o.id, {_ORG_DAYS.format(org="o.id")} AS days FROM organizations o)
    SELECT count(*), COALESCE(sum(a.n), 0), COALESCE(sum(a.size), 0)
    FROM orgs o
    JOIN content_jobs j ON j.org_id = o.id AND {_EXPIRED.format(days="o.days")}
    CROSS JOIN LATERAL (
        SELECT count(*) AS n, sum(size_bytes) AS size FROM content_artifacts a
        WHERE a.job_id = j.id
    ) a
    """
)

_NO_ORG = uuid.UUID(int=0)


@dataclass
class PruneResult:
    jobs: int = 0
    artifacts: int = 0
    artifact_bytes: int = 0
    batches: int = 0
    seconds: float = 0.0
    wrapped: bool = False  # the batch found no org after the cursor (a pass is complete)

    def add(self, jobs: int, artifacts: int, size: int) -> None:
        self.jobs += jobs
        self.artifacts += artifacts
        self.artifact_bytes += size
        self.batches += 1


def _params(catalog: PlanCatalog) -> dict[str, Any]:
    return {
        "plan_limits": json.dumps({name: p.retention_days for name, p in catalog.plans.items()}),
        "default_limit": catalog.plans[FREE_PLAN].retention_days,
    }


class Pruner:
    """Prunes batch after batch, remembering where it stopped (one per worker process)."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_size: int = 500,
        orgs_per_batch: int = 200,
        catalog: PlanCatalog | None = None,
    ) -> None:
        self.engine = system_engine(engine, SystemDuty.MAINTENANCE)  # every org's old jobs
        self.batch_size = batch_size
        self.orgs_per_batch = orgs_per_batch
        self.catalog = catalog
        self._after = _NO_ORG

    def batch(self) -> PruneResult:
        """One batch, in its own short transaction."""
        params = {
            **_params(self.catalog or get_catalog()),
            "after": self._after,
            "orgs": self.orgs_per_batch,
            "batch": self.batch_size,
        }
        with self.engine.begin() as conn:
            jobs, artifacts, size, last = conn.execute(_PRUNE, params).one()
        result = PruneResult()
        result.add(int(jobs), int(artifacts), int(size))
        PRUNED.inc(result.jobs)
        # A full batch may have left more in these orgs: stay on them. Past the last org,
        # start again from the first.
        if jobs < self.batch_size:
            self._after = uuid.UUID(last) if last else _NO_ORG
        result.wrapped = last is None
        return result

    def run(self, *, max_seconds: float = 10.0) -> PruneResult:
        """Batches until every org was visited once or `max_seconds` passed (the next call
        goes on from where this one stopped)."""
        total = PruneResult()
        started = time.monotonic()
        while time.monotonic() - started < max_seconds:
            one = self.batch()
            total.add(one.jobs, one.artifacts, one.artifact_bytes)
            if one.wrapped:
                break
        total.seconds = time.monotonic() - started
        if total.jobs:
            log.info(
                "retention pruned %s jobs' content (%s artifacts, %s bytes) in %.1fs",
                total.jobs,
                total.artifacts,
                total.artifact_bytes,
                total.seconds,
            )
        return total


def pending(engine: Engine, catalog: PlanCatalog | None = None) -> PruneResult:
    """What pruning would take now (jobs, artifacts, bytes), changing nothing."""
    with system_engine(engine, SystemDuty.MAINTENANCE).connect() as conn:
        jobs, artifacts, size = conn.execute(_DRY_RUN, _params(catalog or get_catalog())).one()
    result = PruneResult()
    result.add(int(jobs), int(artifacts), int(size))
    return result


def run_periodically(engine: Engine, stopping: threading.Event, interval: float) -> None:
    """The worker's retention duty: a pass every `interval` seconds, on its own thread so
    claims never wait for it; a database outage only skips a pass."""
    settings = get_settings()
    if interval <= 0:
        return
    pruner = Pruner(engine, batch_size=settings.retention_batch_size)
    # Workers started together would otherwise prune in lockstep: spread the first pass.
    while not stopping.wait(random.uniform(0.5, 1.0) * interval):  # noqa: S311 - not crypto
        try:
            pruner.run(max_seconds=min(interval / 2, 60.0))
        except (DBAPIError, psycopg.Error) as exc:
            log.warning("retention pass skipped: %s", str(exc).splitlines()[0])
