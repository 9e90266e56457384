"""One settings object, read from the environment (prefix PRESSROOM_, plus DATABASE_URL)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("pressroom", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRESSROOM_", extra="ignore")

    # Unset means "start the embedded PostgreSQL"; see pressroom.db.url.
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PRESSROOM_DATABASE_URL", "DATABASE_URL"),
    )
    data_dir: Path = Field(default_factory=default_data_dir)
    environment: str = "development"
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_statement_timeout_ms: int = 30_000

    # Billing (docs/billing.md). Webhook secrets are comma-separated during a rotation.
    plans_file: Path | None = None
    stripe_webhook_secret: str | None = None
    paddle_webhook_secret: str | None = None
    webhook_tolerance_seconds: int = 300
    webhook_max_body_bytes: int = 256 * 1024
    stripe_api_key: str | None = None
    stripe_api_base: str = "https://api.stripe.com"


@lru_cache
def get_settings() -> Settings:
    return Settings()
