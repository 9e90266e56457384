from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from pressroom.app import create_app
from pressroom.billing import plans
from pressroom.config import Settings, get_settings
from pressroom.db.session import make_engine
from tests.http import client

__all__ = ["client"]


@pytest.fixture
def plans_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Configure the plan catalog from a TOML text, as an operator would."""

    def configure(toml: str) -> None:
        path = tmp_path / "plans.toml"
        path.write_text(toml)
        monkeypatch.setenv("PRESSROOM_PLANS_FILE", str(path))
        get_settings.cache_clear()
        plans.get_catalog.cache_clear()

    yield configure
    get_settings.cache_clear()
    plans.get_catalog.cache_clear()


@pytest.fixture
def live_server(database_url: str) -> Iterator[Callable[..., str]]:
    """Start the real app under Uvicorn on a free loopback port; returns its base URL."""
    servers: list[tuple[uvicorn.Server, threading.Thread, Any]] = []

    def start(url: str | None = None, **settings: Any) -> str:
        """`url`: reach the database there instead (a proxy in front of it, say)."""
        engine = make_engine(url or database_url, pool_size=20)
        app = create_app(engine, Settings(**settings))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        servers.append((server, thread, engine))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread, engine in servers:
        server.should_exit = True
        thread.join(10)
        engine.dispose()
