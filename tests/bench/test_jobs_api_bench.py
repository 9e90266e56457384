"""Smoke test of `python -m bench.jobs_api` on a few thousand jobs: the machinery, never timings.

One run (1 s per scenario) feeds the assertions: every scenario was driven and answered,
every correctness check held (counters, replays, the page-through against SQL), the
statements of each request were recorded and explained, and the docs section lands
between its markers. Needs wrk; the data generator and the parsing are tested without it.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from bench.jobs_api import data, report
from bench.jobs_api.run import Options, Results, run
from bench.jobs_api.wrk import parse

from pressroom.billing import plans
from pressroom.config import get_settings
from pressroom.db import admin, migrations

JOBS = 4000


@pytest.fixture(scope="module")
def bench_results(server_url: str) -> Iterator[Results]:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (apt-get install wrk)")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PRESSROOM_PLANS_FILE", "")  # the run sets it; restored afterwards
        options = Options(
            jobs=JOBS, seconds=1, warmup_seconds=1, connections=4, edge_connections=8,
            workers=1, pool_size=4, deep=300, page_limit=100, list_rounds=1, service_rounds=2,
        )  # fmt: skip
        try:
            yield run(server_url, "test server", options, command="smoke")
        finally:
            get_settings.cache_clear()
            plans.get_catalog.cache_clear()


class TestRun:
    def test_every_scenario_was_driven_and_answered_without_errors(
        self, bench_results: Results
    ) -> None:
        labels = [r.label for r in bench_results.runs]
        assert len(labels) == 6
        assert labels[0].startswith("list page 1")
        assert labels[-1].startswith("submit at the quota edge")
        for r in bench_results.runs:
            assert r.requests > 0, r
            assert not [s for s in r.statuses if s >= 500], r
        assert set(bench_results.runs[0].statuses) == {200}

    def test_the_correctness_checks_hold(self, bench_results: Results) -> None:
        assert [(c.label, c.detail) for c in bench_results.consistency if not c.ok] == []
        pt = bench_results.page_through
        assert pt is not None
        assert pt.matches
        assert pt.rows == bench_results.big_org_jobs

    def test_requests_were_timed_one_at_a_time_in_process(self, bench_results: Results) -> None:
        labels = [t.label for t in bench_results.service]
        assert labels == ["list page 1", "list deep", "submit"]
        assert all(0 < t.best_ms <= t.median_ms for t in bench_results.service)

    def test_statements_were_recorded_and_explained(self, bench_results: Results) -> None:
        captured = {c.label: c for c in bench_results.captured}
        assert captured["list deep"].status == 200
        assert captured["submit replayed key"].status == 202
        listing = [
            p
            for p in bench_results.plans
            if p.label == "list deep" and "FROM content_jobs" in p.statement
        ]
        assert len(listing) == 1
        assert "Execution Time" in listing[0].plan_text

    def test_the_docs_section_is_written_between_the_markers(
        self, bench_results: Results, tmp_path: Path
    ) -> None:
        doc = tmp_path / "jobs.md"
        doc.write_text(f"# Jobs\n\nby hand\n\n{report.START}\nold\n{report.END}\n\n## After\n")
        report.write_between_markers(doc, report.markdown(bench_results))
        text = doc.read_text()
        assert text.startswith(f"# Jobs\n\nby hand\n\n{report.START}\n")
        assert text.endswith(f"{report.END}\n\n## After\n")
        assert "old" not in text
        assert "| list page 1 (limit=50) |" in text
        assert "Command: `smoke`" in text


class TestData:
    def test_same_seed_gives_the_same_jobs(self, server_url: str) -> None:
        digests = []
        for _ in range(2):
            name = f"pressroom_test_jobsbench_{uuid.uuid4().hex[:10]}"
            url = admin.create_database(server_url, name)
            try:
                migrations.upgrade(url, "head")
                fixture = data.load(url, data.Shape.for_jobs(1000), seed=7)
                assert fixture.big_org_jobs > 100
                with psycopg.connect(url) as conn:
                    digest = hashlib.md5(usedforsecurity=False)
                    for row in conn.execute(
                        "SELECT id, org_id, kind, status, created_at, input FROM content_jobs"
                        " ORDER BY id"
                    ):
                        digest.update(repr(row).encode())
                    digests.append(digest.hexdigest())
            finally:
                admin.drop_database(server_url, name)
        assert digests[0] == digests[1]


class TestWrkOutput:
    def test_the_result_line_is_parsed(self) -> None:
        out = (
            "Running 1s test\n"
            'WRK_JSON {"requests": 10, "duration_us": 2000000, "p50_us": 1500, '
            '"p90_us": 2500, "p99_us": 9000, "max_us": 12000, "socket_errors": 0, '
            '"replayed": 3, "statuses": {"202": 7, "402": 3}}\n'
        )
        result = parse("x", 4, out)
        assert (result.rps, result.p50_ms, result.p99_ms) == (5.0, 1.5, 9.0)
        assert (result.count(202), result.count(402), result.replayed) == (7, 3, 3)

    def test_no_result_line_is_an_error(self) -> None:
        with pytest.raises(RuntimeError, match="no result line"):
            parse("x", 4, "unable to connect")
