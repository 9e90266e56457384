"""The queue benchmark's machinery (bench/queue.py), run small: every job is done exactly
once and every pick-up is measured. No timings are asserted; speed is the benchmark's."""

from __future__ import annotations

import pytest
from bench.queue import run_one
from bench.queue_systems import Pgqueuer, Pressroom, Procrastinate, System


class TestQueueBenchmarkMachinery:
    @pytest.mark.parametrize(
        "system", [Pressroom(), Pgqueuer(), Procrastinate()], ids=lambda s: s.name
    )
    def test_small_burn_down_completes_every_job_once(
        self, system: System, database_url: str, empty_database_url: str
    ) -> None:
        if isinstance(system, Pressroom):
            url = database_url  # already migrated to head
        else:
            url = empty_database_url
            system.prepare(url)
        result = run_one(
            system, url, jobs=300, processes=1, concurrency=4, orgs=10, latency_samples=3
        )
        assert result.succeeded == 300
        assert result.max_attempts == 1
        assert len(result.latencies_ms) == 3
