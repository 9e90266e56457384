from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from pressroom.config import Settings
from pressroom.generation.builtin import BuiltinEngine
from pressroom.generation.errors import EngineError
from pressroom.generation.openai_engine import OpenAIEngine
from pressroom.generation.registry import engine_for

LOCAL = {"openai_base_url": "http://127.0.0.1:9/v1", "openai_api_key": SecretStr("sk-x")}


class TestEngineFor:
    def test_builtin_by_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("PRESSROOM_ENGINE", raising=False)
        monkeypatch.delenv("PRESSROOM_ENGINE_BY_KIND", raising=False)
        assert isinstance(engine_for("full_pack", Settings()), BuiltinEngine)

    def test_engine_from_settings(self) -> None:
        engine = engine_for("summary", Settings(engine="openai", **LOCAL))  # type: ignore[arg-type]
        assert isinstance(engine, OpenAIEngine)

    def test_per_kind_override_from_the_environment(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("PRESSROOM_ENGINE_BY_KIND", '{"social_posts": "openai"}')
        monkeypatch.setenv("PRESSROOM_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        settings = Settings()
        assert isinstance(engine_for("social_posts", settings), OpenAIEngine)
        assert isinstance(engine_for("summary", settings), BuiltinEngine)

    def test_openai_engine_is_reused_for_the_same_configuration(self) -> None:
        settings = Settings(engine="openai", **LOCAL)  # type: ignore[arg-type]
        assert engine_for("seo", settings) is engine_for("summary", settings)
        other = Settings(engine="openai", openai_model="other", **LOCAL)  # type: ignore[arg-type]
        assert engine_for("seo", other) is not engine_for("seo", settings)

    def test_unknown_kind_in_mapping(self) -> None:
        with pytest.raises(EngineError, match="poems"):
            engine_for("summary", Settings(engine_by_kind={"poems": "openai"}))

    def test_unknown_engine_name(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PRESSROOM_ENGINE", "gpt-pretend")
        with pytest.raises(ValidationError):
            Settings()

    def test_api_key_is_not_in_settings_repr(self) -> None:
        settings = Settings(openai_api_key=SecretStr("sk-hidden-value"))
        assert "sk-hidden-value" not in repr(settings)
