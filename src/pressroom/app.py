"""The FastAPI application."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from pressroom import __version__, health, tracing
from pressroom.api_keys.routes import router as api_keys_router
from pressroom.auth import passwords
from pressroom.auth.account_routes import router as accounts_router
from pressroom.auth.recovery_routes import router as recovery_router
from pressroom.auth.routes import router as auth_router
from pressroom.billing import provider_events
from pressroom.billing.routes import router as billing_router
from pressroom.config import Settings, get_settings
from pressroom.db.async_pool import AsyncPool
from pressroom.db.session import get_engine
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.errors import UnhandledErrorMiddleware, install_error_handlers
from pressroom.http.body_limit import BodySizeLimitMiddleware
from pressroom.http.concurrency_limit import ConcurrencyLimitMiddleware
from pressroom.http.request_context import RequestContextMiddleware
from pressroom.jobs.routes import router as jobs_router
from pressroom.observability import configure_logging
from pressroom.orgs.invitation_routes import router as invitations_router
from pressroom.orgs.routes import router as orgs_router
from pressroom.storable import refuse_unstorable_text
from pressroom.usage.routes import router as usage_router
from pressroom.web.routes import router as web_router
from pressroom.webhooks.routes import router as webhooks_router

API_PREFIX = "/v1"


def api_router() -> APIRouter:
    v1 = APIRouter(prefix=API_PREFIX)
    # The hottest routes first: a request's path is matched against the routes in order.
    for router in (
        jobs_router,
        accounts_router,
        auth_router,
        recovery_router,
        orgs_router,
        invitations_router,
        api_keys_router,
        usage_router,
        billing_router,
        webhooks_router,
    ):
        v1.include_router(router)
    return v1


def create_app(engine: Engine | None = None, settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    tracing.configure(settings)
    passwords.warm_up()
    # /docs and /redoc load their scripts from the app itself (the fastapi-offline wheel
    # ships them), so they render with no internet.
    app = FastAPIOffline(
        title="Pressroom",
        version=__version__,
        description="Multi-tenant content generation: organizations, plans, jobs, artifacts.",
        dependencies=[Depends(refuse_unstorable_text)],
    )

    app.state.settings = settings  # what AppSettings gives requests; the dashboard reads it too
    app.state.engine = engine or get_engine()
    app.state.sessionmaker = sessionmaker(bind=app.state.engine, expire_on_commit=False)
    app.state.async_pool = AsyncPool.for_engine(app.state.engine, settings)
    install_error_handlers(app)
    # A provider's event names its org itself: those transactions cross orgs, by name.
    receiver = provider_events.WebhookReceiver.start(
        sessionmaker(
            bind=system_engine(app.state.engine, SystemDuty.PROVIDER_EVENTS),
            expire_on_commit=False,
        ),
        app.state.engine,
        settings,
    )
    # Added last = runs first: the request id wraps everything; an exception nothing
    # handled is answered next (without dropping the connection); webhooks are answered
    # next (they bound their own body and concurrency); then the body limit, then the
    # wait for one of the database pool's connections.
    app.add_middleware(
        ConcurrencyLimitMiddleware, limit=settings.db_pool_size + settings.db_max_overflow
    )
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(provider_events.ProviderEventMiddleware, receiver=receiver)
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(health.router)
    app.include_router(api_router())
    app.include_router(web_router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the webhook operations its router does not serve."""
    if app.openapi_schema is None:
        app.openapi_schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=[*app.routes, *provider_events.openapi_routes()],
        )
    return app.openapi_schema
