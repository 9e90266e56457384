"""The embedded PostgreSQL a newcomer gets: started on demand, reused, durable."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from pressroom.db import embedded


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "pressroom-data"


class TestEmbeddedServer:
    def test_second_start_reuses_the_data_and_loses_nothing(self, data_dir: Path) -> None:
        url = embedded.start(data_dir, quiet=True)
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE TABLE kept (v text)")
                conn.execute("INSERT INTO kept VALUES ('accepted')")
            assert embedded.stop(data_dir)
            assert not embedded.stop(data_dir)  # nothing left running

            again = embedded.start(data_dir, quiet=True)
            assert again == url
            with psycopg.connect(again) as conn:
                assert conn.execute("SELECT v FROM kept").fetchall() == [("accepted",)]
        finally:
            embedded.stop(data_dir)

    def test_says_where_its_data_lives(
        self, data_dir: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        # A log line, so it has the format of every other line (JSON, or human on a TTY).
        caplog.set_level("INFO", logger="pressroom.db.embedded")
        try:
            embedded.start(data_dir)
        finally:
            embedded.stop(data_dir)
        assert str(data_dir / "pgdata") in caplog.text
