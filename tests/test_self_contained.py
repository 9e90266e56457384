"""The suite depends on nothing outside the repository: a user's clone has no shared/
beside it (.ci/run runs the suite in such a clone)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"""\.\./shared|parents?\b[^\n]*["']shared["']|["']shared["']\s*/""")


def test_no_test_or_benchmark_reads_beside_the_checkout() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for folder in ("tests", "bench")
        for path in sorted((REPO / folder).rglob("*.py"))
        if path != Path(__file__).resolve()
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_the_stripe_fixtures_live_in_the_repository_with_their_licence() -> None:
    folder = REPO / "tests" / "fixtures" / "stripe"
    assert (folder / "fixtures3.json").stat().st_size > 1000
    notice = (folder / "README.md").read_text()
    assert "MIT" in notice
    assert "github.com/stripe/openapi" in notice
