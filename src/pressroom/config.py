"""One settings object, read from the environment (prefix PRESSROOM_, plus DATABASE_URL)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from fastapi import Depends, Request
from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

# Signs development tokens only: production refuses to start with it (or with no key).
DEV_SECRET_KEY = "pressroom-development-secret-key-do-not-use-in-production"  # noqa: S105
MIN_SECRET_KEY_LENGTH = 32
DEV_KEY_WARNING = (
    "PRESSROOM_SECRET_KEY is not set: using the development key "
    "(tokens are forgeable by anyone who reads the source)"
)


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("pressroom", appauthor=False))


class Settings(BaseSettings):
    # hide_input_in_errors: a refused value may be a secret (a key, a URL with a password);
    # errors name the variable and the rule, never the value.
    model_config = SettingsConfigDict(
        env_prefix="PRESSROOM_", extra="ignore", hide_input_in_errors=True
    )

    # Unset means "start the embedded PostgreSQL"; see pressroom.db.url.
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PRESSROOM_DATABASE_URL", "DATABASE_URL"),
    )
    data_dir: Path = Field(default_factory=default_data_dir)
    # Only these two: a typo ("prod") must not silently run with the development key.
    environment: Annotated[Literal["development", "production"], BeforeValidator(_lower)] = (
        "development"
    )
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_statement_timeout_ms: int = 30_000
    # Seconds to wait for a database host to answer a new connection (API, worker,
    # migrations, CLI): a host that accepts TCP but never answers fails instead of hanging.
    db_connect_timeout_seconds: int = Field(default=10, ge=1)
    # Pooled connections older than this are replaced on checkout (a middlebox may drop
    # an idle connection silently; see pressroom.db.session).
    db_pool_recycle_seconds: int = Field(default=600, ge=1)
    # A connection pooler in front of PostgreSQL, and the direct connection the worker's
    # LISTEN needs behind one (pressroom.db.pooler, docs/scaling.md).
    db_pooler: Literal["auto", "none", "pgbouncer"] = "auto"
    db_listen_url: str | None = None

    # Workers (pressroom worker): a crashed worker's jobs return to the queue within
    # worker_lease_seconds + worker_rescue_interval.
    worker_concurrency: int = Field(default=4, ge=1, le=256)
    worker_lease_seconds: float = Field(default=20.0, gt=0)
    worker_poll_interval: float = Field(default=1.0, gt=0)
    worker_rescue_interval: float = Field(default=5.0, gt=0)
    worker_shutdown_grace: float = Field(default=30.0, ge=0)
    worker_metrics_port: int | None = None
    # OpenTelemetry traces (pressroom.tracing; needs the `otel` extra). The exporter reads
    # the standard OTEL_EXPORTER_OTLP_ENDPOINT itself.
    otel_enabled: bool = False
    # "engine" runs the generation engine; "noop"/"echo" exercise the queue alone.
    worker_runner: Literal["engine", "noop", "echo"] = "engine"

    # Retention (pressroom.jobs.retention): a worker prunes expired content this often
    # (0: never), this many jobs per transaction. The days per plan are in the plan catalog.
    retention_interval_seconds: float = Field(default=300.0, ge=0)
    retention_batch_size: int = Field(default=500, ge=1, le=10_000)

    # Generation engines (docs/generation.md). PRESSROOM_ENGINE_BY_KIND is JSON, e.g.
    # '{"social_posts": "openai"}'; kinds it does not name use PRESSROOM_ENGINE.
    engine: Literal["builtin", "openai"] = "builtin"
    engine_by_kind: dict[str, Literal["builtin", "openai"]] = Field(default_factory=dict)
    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: SecretStr | None = None
    openai_model: str = "gpt-4o-mini"
    # Unset: 60 s for api.openai.com, 600 s for any other (local) server (openai_engine.py).
    openai_timeout_s: float | None = Field(default=None, gt=0)
    openai_max_retries: int = Field(default=2, ge=0, le=10)
    openai_max_input_chars: int = Field(default=60_000, ge=1_000)
    openai_temperature: float = Field(default=0.2, ge=0, le=2)

    # Billing (docs/billing.md). Webhook secrets are comma-separated during a rotation.
    plans_file: Path | None = None
    stripe_webhook_secret: str | None = None
    paddle_webhook_secret: str | None = None
    webhook_tolerance_seconds: int = 300
    webhook_max_body_bytes: int = 256 * 1024
    # Webhook transactions run at once per process (at most the pool's size). A few keep
    # two cores busy; more only add context switches (docs/billing.md, "Benchmark").
    webhook_concurrency: int = Field(default=4, ge=1, le=256)
    stripe_api_key: str | None = None
    stripe_api_base: str = "https://api.stripe.com"

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

    # Where people reach this deployment: links in e-mails and artifact URLs in webhooks.
    public_url: str = "http://127.0.0.1:8000"

    # The outbox (docs/webhooks.md, "Retries"): deliveries are retried with exponential
    # backoff and jitter (base, doubling, capped) until the retry window has passed since
    # the event (or its replay), then marked dead.
    outbox_concurrency: int = Field(default=8, ge=1, le=256)
    outbox_poll_interval: float = Field(default=1.0, gt=0)
    outbox_lease_seconds: float = Field(default=60.0, gt=0)
    outbox_retry_window_seconds: float = Field(default=24 * 3600, ge=0)
    outbox_retry_base_seconds: float = Field(default=10.0, gt=0)
    outbox_retry_max_delay_seconds: float = Field(default=3 * 3600, gt=0)
    # Deliveries of one org in flight at once (all workers together): a black-holed
    # endpoint ties up this many threads at most, never every org's.
    outbox_max_in_flight_per_lane: int = Field(default=4, ge=1)

    # Outbound webhooks. Private, loopback and link-local targets (and plain http) are
    # refused in production unless webhook_allow_private_targets (tests, closed networks).
    webhook_allow_private_targets: bool = False
    webhook_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    webhook_timeout_seconds: float = Field(default=15.0, gt=0)
    webhook_response_body_max_bytes: int = Field(default=4096, ge=0)
    webhook_disable_after_seconds: float = Field(default=5 * 24 * 3600, gt=0)
    webhook_secret_grace_seconds: int = Field(default=24 * 3600, ge=0)

    # E-mail (docs/email.md): smtp://user:pass@host:587 (STARTTLS) or smtps://...:465.
    # Unset in development: mail goes to the dev mailbox (`pressroom mail list`).
    smtp_url: SecretStr | None = None
    mail_from: str = "Pressroom <no-reply@localhost>"
    smtp_timeout_seconds: float = Field(default=20.0, gt=0)
    password_reset_ttl_seconds: int = Field(default=3600, ge=60)
    email_verification_ttl_seconds: int = Field(default=2 * 24 * 3600, ge=60)
    password_reset_limit_per_ip: int = Field(default=20, ge=1)
    password_reset_limit_per_account: int = Field(default=5, ge=1)

    # Log level of the JSON logs.
    log_level: str = "INFO"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def uses_development_key(self) -> bool:
        return self.secret_key.get_secret_value() == DEV_SECRET_KEY

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
            # Said once per start by the command that serves the API (DEV_KEY_WARNING), not
            # here: every CLI command and worker builds Settings.
            self.secret_key = SecretStr(DEV_SECRET_KEY)
        return self


@lru_cache
def get_settings() -> Settings:
    """The settings: the one way to reach them outside requests (inside one, `AppSettings`
    gives the serving app's own)."""
    return Settings()


async def app_settings(request: Request) -> Settings:
    """The settings of the app serving the request (create_app keeps them in its state): an
    app built with its own settings (tests, benchmarks) answers with those. Not through
    `app.dependency_overrides`: while any override is set, FastAPI rebuilds every
    dependency of every request from its signature, a quarter of a listing's CPU. A
    coroutine, so FastAPI does not hop to a thread to return it."""
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(app_settings)]


def _variable(field: str) -> str:
    # A field read through an alias is reported by that alias (PRESSROOM_DATABASE_URL).
    return field if field.isupper() else f"PRESSROOM_{field.upper()}"


def describe_settings_error(exc: ValidationError) -> str:
    """One line naming each refused variable and its rule (never the value)."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        message = err["msg"].removeprefix("Value error, ")
        loc = err["loc"]
        problems.append(f"{_variable(str(loc[0]))}: {message}" if loc else message)
    return "invalid settings: " + "; ".join(problems)
