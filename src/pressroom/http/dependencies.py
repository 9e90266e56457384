"""Dependencies for what `create_app` put on the application: its settings and engine."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from pressroom.config import Settings


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def app_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def client_ip(request: Request) -> str | None:
    # Behind a proxy, run uvicorn with --proxy-headers/--forwarded-allow-ips so this is
    # the client's address rather than the proxy's.
    return request.client.host if request.client else None


AppSettings = Annotated[Settings, Depends(app_settings)]
AppEngine = Annotated[Engine, Depends(app_engine)]
ClientIp = Annotated[str | None, Depends(client_ip)]
