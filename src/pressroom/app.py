"""The FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from pressroom import __version__, health
from pressroom.billing.webhooks import install_billing
from pressroom.db.session import get_engine
from pressroom.errors import install_error_handlers


def create_app(engine: Engine | None = None) -> FastAPI:
    app = FastAPI(
        title="Pressroom",
        version=__version__,
        description="Multi-tenant content generation: organizations, plans, jobs, artifacts.",
    )
    app.state.engine = engine or get_engine()
    app.state.sessionmaker = sessionmaker(bind=app.state.engine, expire_on_commit=False)
    install_error_handlers(app)
    app.include_router(health.router)
    install_billing(app)
    return app
