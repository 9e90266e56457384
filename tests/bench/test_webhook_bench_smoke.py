"""Smoke test of bench/webhooks.py at a tiny size: the machinery, never its timings.

The real server (`pressroom serve`) on a clone of the migrated template, 12 events each
delivered twice by each load generator; the bench itself exits 1 unless every answer was
200, each event was processed exactly once, billing_events holds one row per event and
every subscription ended in its newest state.
"""

from __future__ import annotations

import shutil

import pytest

from bench import webhooks

TINY = ["--events", "12", "--subscriptions", "3", "--workers", "1", "--connections", "4"]


class TestWebhookBenchSmoke:
    @pytest.mark.parametrize(
        "client",
        [
            "python",
            pytest.param(
                "wrk",
                marks=pytest.mark.skipif(
                    shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)"
                ),
            ),
        ],
    )
    def test_every_check_passes(
        self,
        client: str,
        server_url: str,
        template_database: str,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        args = [*TINY, "--client", client, "--url", server_url, "--template", template_database]
        webhooks.main(args)  # raises SystemExit(1) if a check fails

        out = capsys.readouterr().out
        assert "deliveries: 24 (12 distinct, 50% duplicates)" in out
        assert "answers: 24 (12 processed, 12 duplicate, 0 non-200 or failed)" in out
        checks = [line for line in out.splitlines() if line.startswith("check: ")]
        assert len(checks) == 5
        assert all(line.endswith(": OK") for line in checks), checks
