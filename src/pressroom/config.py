"""One settings object, read from the environment (prefix PRESSROOM_, plus DATABASE_URL)."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Signs development tokens only: production refuses to start with it (or with no key).
DEV_SECRET_KEY = "pressroom-development-secret-key-do-not-use-in-production"  # noqa: S105
MIN_SECRET_KEY_LENGTH = 32

log = logging.getLogger(__name__)


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

    # Signs access tokens (HS256). Unset in development means DEV_SECRET_KEY, with a warning.
    secret_key: SecretStr = SecretStr("")
    access_token_ttl_seconds: int = Field(default=900, ge=30)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    invitation_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)

    # Largest request body accepted, checked before the body is parsed.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    # Abuse limits: attempts per window, counted in PostgreSQL (shared by every API process).
    rate_limit_window_seconds: int = Field(default=600, ge=1)
    signup_limit_per_ip: int = Field(default=30, ge=1)
    signup_limit_per_account: int = Field(default=5, ge=1)
    login_limit_per_ip: int = Field(default=60, ge=1)
    login_limit_per_account: int = Field(default=10, ge=1)

    # Log level of the JSON logs.
    log_level: str = "INFO"

    @property
    def is_production(self) -> bool:
        return self.environment.lower() == "production"

    @model_validator(mode="after")
    def _secret_key_is_safe(self) -> Settings:
        key = self.secret_key.get_secret_value()
        if self.is_production:
            if not key or key == DEV_SECRET_KEY:
                raise ValueError(
                    "PRESSROOM_SECRET_KEY must be set to a private random value in production"
                )
            if len(key) < MIN_SECRET_KEY_LENGTH:
                raise ValueError(
                    f"PRESSROOM_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters"
                )
        elif not key:
            log.warning(
                "PRESSROOM_SECRET_KEY is not set: using the development key "
                "(tokens are forgeable by anyone who reads the source)"
            )
            self.secret_key = SecretStr(DEV_SECRET_KEY)
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
