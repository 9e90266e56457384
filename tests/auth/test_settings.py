"""The JWT secret: refused when missing or default in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pressroom.config import DEV_SECRET_KEY, Settings


class TestSecretKey:
    def test_production_refuses_a_missing_key(self) -> None:
        with pytest.raises(ValidationError, match="PRESSROOM_SECRET_KEY"):
            Settings(environment="production", secret_key="")

    def test_production_refuses_the_development_key(self) -> None:
        with pytest.raises(ValidationError, match="PRESSROOM_SECRET_KEY"):
            Settings(environment="production", secret_key=DEV_SECRET_KEY)

    def test_production_refuses_a_short_key(self) -> None:
        with pytest.raises(ValidationError, match="at least 32"):
            Settings(environment="production", secret_key="short")

    def test_production_accepts_a_real_key(self) -> None:
        settings = Settings(environment="production", secret_key="k" * 48)
        assert settings.secret_key.get_secret_value() == "k" * 48

    def test_development_falls_back_to_the_dev_key_silently(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        # The warning is said once per start by the command serving the API
        # (tests/cli/test_up.py), not by every CLI command that builds settings.
        settings = Settings(environment="development", secret_key="")
        assert settings.secret_key.get_secret_value() == DEV_SECRET_KEY
        assert settings.uses_development_key
        assert caplog.text == ""

    def test_environment_variable_is_read(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PRESSROOM_SECRET_KEY", "from-the-environment-" * 2)
        monkeypatch.setenv("PRESSROOM_ACCESS_TOKEN_TTL_SECONDS", "120")
        settings = Settings()
        assert settings.secret_key.get_secret_value() == "from-the-environment-" * 2
        assert settings.access_token_ttl_seconds == 120
        assert "from-the-environment" not in repr(settings)
