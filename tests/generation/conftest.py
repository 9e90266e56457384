from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.generation.fake_openai import FakeOpenAI, serve

FIXTURES = Path(__file__).parent / "fixtures"

# (file, format, a term the article is obviously about)
ARTICLES = [
    ("heat_pumps.md", "markdown", "heat pump"),
    ("sourdough.html", "html", "starter"),
    ("four_day_week.txt", "text", "four-day week"),
]


def article(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@pytest.fixture
def fake_openai() -> Iterator[tuple[FakeOpenAI, str]]:
    with serve() as running:
        yield running
