"""Smoke test of `python -m bench.indexes` at a tiny scale: plans, never timings.

One CLI run (scale 0.01: 20k jobs, a few seconds) feeds every assertion: at head each
query the seed indexed must be driven by its index with no Seq Scan; before, job listing
must really be a Seq Scan (otherwise the bench would compare nothing); the published
section must land between the markers and nowhere else.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from bench.indexes import datagen
from bench.indexes.command import main
from bench.indexes.queries import PATTERNS
from bench.indexes.report import END, START, write_between_markers
from typer.testing import CliRunner

from pressroom.db import admin, migrations

LEAD_TEXT = "# Database indexes\n\nWritten by hand.\n\n{start}\nold numbers\n{end}\n\n## After\n"


@pytest.fixture(scope="module")
def bench_run(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    docs = tmp_path_factory.mktemp("docs")
    (docs / "database-indexes.md").write_text(LEAD_TEXT.format(start=START, end=END))
    database = f"pressroom_test_bench_{uuid.uuid4().hex[:10]}"
    out = docs / "results.json"
    args = ["--scale", "0.01", "--runs", "2", "--url", server_url]
    args += ["--database", database, "--docs-dir", str(docs), "--json", str(out), "--publish"]
    result = CliRunner().invoke(main, args)
    try:
        assert result.exit_code == 0, result.output
        yield json.loads(out.read_text()), docs, result.output
    finally:
        admin.drop_database(server_url, database)


def _result(run: Any, key: str, phase: str) -> dict[str, Any]:
    data, _, _ = run
    value: dict[str, Any] = data["results"][key][phase]
    return value


def _indexes(res: dict[str, Any]) -> set[str]:
    return {i for shape in res["shapes"] for i in shape["indexes"]}


def _seq_scans(res: dict[str, Any]) -> set[str]:
    return {t for shape in res["shapes"] for t in shape["seq_scans"]}


INDEXED = [p for p in PATTERNS if p.expected_index]


class TestPlansAtHead:
    @pytest.mark.parametrize("pattern", INDEXED, ids=[p.key for p in INDEXED])
    def test_each_seed_pattern_uses_its_index_and_no_seq_scan(
        self, bench_run: Any, pattern: Any
    ) -> None:
        after = _result(bench_run, pattern.key, "after")
        assert after["error"] is None
        assert pattern.expected_index in _indexes(after), after["shapes"]
        assert not _seq_scans(after), after["shapes"]

    def test_keyset_page_sorts_ties_incrementally_on_the_org_index(self, bench_run: Any) -> None:
        after = _result(bench_run, "keyset_deep", "after")
        assert all(s["incremental_sort"] for s in after["shapes"]), after["shapes"]
        assert "Index Cond" in after["plan_text"]


class TestPlansBefore:
    def test_job_listing_before_the_migration_is_a_seq_scan(self, bench_run: Any) -> None:
        before = _result(bench_run, "newest_big", "before")
        assert _seq_scans(before) == {"content_jobs"}

    @pytest.mark.parametrize(
        ("key", "constraint"),
        [
            ("membership", "uq_memberships_org_id_user_id"),
            ("usage", "uq_usage_counters_org_id_period_month"),
        ],
    )
    def test_unique_constraints_already_indexed_these_lookups(
        self, bench_run: Any, key: str, constraint: str
    ) -> None:
        assert _indexes(_result(bench_run, key, "before")) == {constraint}


class TestDedupeConflictTargets:
    def test_each_phase_uses_its_own_unique_rule_and_rejects_the_other(
        self, bench_run: Any
    ) -> None:
        data, _, _ = bench_run
        assert _indexes(_result(bench_run, "dedupe", "before")) == {
            "billing_events_provider_event_id_key"
        }
        for phase in ("before", "after"):
            assert "no unique or exclusion constraint" in data["cross_checks"][phase]


class TestPublishing:
    def test_cli_replaces_only_the_text_between_the_markers(self, bench_run: Any) -> None:
        _, docs, _ = bench_run
        text = (docs / "database-indexes.md").read_text()
        assert text.startswith("# Database indexes\n\nWritten by hand.\n\n" + START)
        assert text.endswith(END + "\n\n## After\n")
        assert "old numbers" not in text
        assert "| Membership of (org, user) |" in text
        assert "`python -m bench.indexes --scale 0.01 --runs 2`" in text
        assert (docs / "bench" / "indexes-0.01.md").exists()

    def test_markers_are_added_to_a_doc_without_them(self, tmp_path: Path) -> None:
        doc = tmp_path / "database-indexes.md"
        doc.write_text("# Title\n\nbody\n")
        write_between_markers(doc, "table")
        assert doc.read_text() == f"# Title\n\nbody\n\n{START}\ntable\n{END}\n"
        write_between_markers(doc, "new table")
        assert doc.read_text() == f"# Title\n\nbody\n\n{START}\nnew table\n{END}\n"


class TestDeterministicData:
    def test_same_seed_gives_the_same_rows(self, server_url: str) -> None:
        digests = []
        for _ in range(2):
            name = f"pressroom_test_bench_{uuid.uuid4().hex[:10]}"
            url = admin.create_database(server_url, name)
            try:
                migrations.upgrade(url, "0607bc5b8536")
                datagen.load(url, datagen.Sizes.for_scale(0.001), seed=7)
                with psycopg.connect(url) as conn:
                    digest = hashlib.md5(usedforsecurity=False)
                    for table in ("memberships", "content_jobs", "content_artifacts"):
                        for row in conn.execute(f"SELECT t::text FROM {table} t ORDER BY id"):
                            digest.update(str(row[0]).encode())
                    digests.append(digest.hexdigest())
            finally:
                admin.drop_database(server_url, name)
        assert digests[0] == digests[1]
