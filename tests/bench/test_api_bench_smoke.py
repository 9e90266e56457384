"""Smoke test of `python -m bench.api --quick`: the machinery and the report's shape, never
timings (those move with the machine's load; the bench prints them as ratios)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from bench.api import __main__ as cli
from bench.api import report, statements
from bench.api.run import BARE, DB_FLOOR, Results, run

from pressroom.billing import plans
from pressroom.config import get_settings

ENDPOINTS = [
    BARE,
    DB_FLOOR,
    "GET jobs page 1, API key",
    "GET jobs deep page, API key",
    "GET jobs page 1, JWT",
    "GET jobs deep page, JWT",
    "GET jobs counts, API key",
    "POST jobs, API key",
]


@pytest.fixture(scope="module")
def results(server_url: str) -> Iterator[Results]:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (apt-get install wrk)")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PRESSROOM_PLANS_FILE", "")  # the run sets it; restored afterwards
        options = cli.options_of(cli.parse(["--quick"]))
        try:
            yield run(server_url, "test server", options, command="smoke")
        finally:
            get_settings.cache_clear()
            plans.get_catalog.cache_clear()


class TestReport:
    def test_every_endpoint_and_floor_was_driven_and_answered(self, results: Results) -> None:
        assert [m.label for m in results.measured] == ENDPOINTS
        for m in results.measured:
            assert m.requests > 0, m
            assert m.cpu_seconds > 0, m
            assert set(m.statuses) == ({202} if m.label.startswith("POST") else {200}), m

    def test_statements_are_counted_for_the_app_only(self, results: Results) -> None:
        for m in results.measured:
            if m.floor:
                assert m.statements is None
            else:
                assert m.statements, m
                assert m.round_trips, m
                assert m.sql[-1] == "COMMIT", m

    def test_connections_opened_are_counted_for_the_app_only(self, results: Results) -> None:
        for m in results.measured:
            if m.floor:
                assert m.new_connections_per_1k is None
            else:
                assert m.connections_opened is not None, m
                assert m.connections_opened >= 0, m

    def test_the_table_has_a_row_per_endpoint_with_ratios_and_the_load(
        self, results: Results
    ) -> None:
        text = report.markdown(results, heading="smoke")
        assert "Load average" in text
        table = [line for line in text.splitlines() if line.startswith("| ")]
        assert len(table) == 2 + len(ENDPOINTS)  # the header, its rule, a row each
        assert [r[0] for r in report.rows(results)] == ENDPOINTS
        assert report.rows(results)[0][2] == "1.0x"
        assert all(r[2].endswith("x") for r in report.rows(results))


class TestWireCount:
    def test_a_trace_is_read_as_statements_and_round_trips(self) -> None:
        trace = "\n".join(
            [
                'F\t10\tQuery\t "BEGIN"',
                "B\t5\tReadyForQuery\t T",
                'F\t22\tParse\t "" "SELECT 1" 0',
                'F\t20\tBind\t "" "" 0 0 1 0',
                'F\t9\tExecute\t "" 0',
                "F\t4\tSync",
                "B\t5\tReadyForQuery\t T",
                'F\t11\tQuery\t "COMMIT"',
                "B\t5\tReadyForQuery\t I",
            ]
        )
        counted = statements.parse(trace)
        assert (counted.statements, counted.round_trips) == (3, 3)
        assert counted.sql == ["BEGIN", "SELECT 1", "COMMIT"]
