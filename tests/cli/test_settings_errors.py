"""Bad settings stop a command with one line naming the variable (or the plans file and
its field), and never echo a secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from pressroom.config import Settings, describe_settings_error

SECRET = "hunter2-not-long-enough"


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PRESSROOM_")}
    base.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "pressroom.cli", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestEnvironment:
    @pytest.mark.parametrize("value", ["prod", "staging", "dev", ""])
    def test_only_the_documented_values(self, value: str) -> None:
        with pytest.raises(ValidationError) as info:
            Settings(environment=value)
        assert describe_settings_error(info.value) == (
            "invalid settings: PRESSROOM_ENVIRONMENT: Input should be 'development' or 'production'"
        )

    def test_case_and_spaces_do_not_matter(self) -> None:
        settings = Settings(environment=" Production ", secret_key="k" * 40)
        assert settings.is_production

    def test_a_typo_stops_every_command_with_one_line(self) -> None:
        result = run_cli("db", "url", PRESSROOM_ENVIRONMENT="prod")
        assert result.returncode == 2
        assert result.stderr.splitlines() == [
            "error: invalid settings: PRESSROOM_ENVIRONMENT: Input should be 'development' "
            "or 'production'"
        ]


class TestNoSecretInErrors:
    def test_the_production_refusal_does_not_echo_the_key(self) -> None:
        with pytest.raises(ValidationError) as info:
            Settings(environment="production", secret_key=SECRET)
        for text in (str(info.value), repr(info.value), describe_settings_error(info.value)):
            assert SECRET not in text
            assert SECRET[:8] not in text
        assert "PRESSROOM_SECRET_KEY must be at least 32 characters" in str(info.value)

    def test_a_refused_database_url_does_not_echo_its_password(self) -> None:
        with pytest.raises(ValidationError) as info:
            Settings(database_url=["postgresql://u:s3cr3t-pw@h/db"])  # type: ignore[arg-type]
        assert "s3cr3t-pw" not in str(info.value)
        assert describe_settings_error(info.value).startswith(
            "invalid settings: PRESSROOM_DATABASE_URL: Input should be a valid string"
        )

    def test_the_cli_refusal_is_one_line_without_the_key(self) -> None:
        result = run_cli("serve", PRESSROOM_ENVIRONMENT="production", PRESSROOM_SECRET_KEY=SECRET)
        assert result.returncode == 2
        assert result.stderr.splitlines() == [
            "error: invalid settings: PRESSROOM_SECRET_KEY must be at least 32 characters"
        ]


def test_a_bad_plans_file_is_one_line_naming_the_file_and_field(tmp_path: Path) -> None:
    plans = tmp_path / "plans.toml"
    plans.write_text("[plans.pro]\nmax_priority = -3\n")
    result = run_cli("serve", "--port", "0", PRESSROOM_PLANS_FILE=str(plans))
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: invalid plans file {plans}: plans.pro.max_priority:")
