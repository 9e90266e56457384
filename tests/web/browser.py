"""A real dashboard for a real browser: the app under Uvicorn, a worker (jobs and the
outbox), and Debian's chromium driven by Playwright (launched by path; no browser is ever
downloaded)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pressroom.app import create_app
from pressroom.billing import plans
from pressroom.config import Settings, get_settings
from pressroom.db.session import make_engine
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.jobs.policy import concurrency_policy, runner_for
from pressroom.jobs.worker import Worker, WorkerConfig
from pressroom.outbox.cli import delivery_loop
from tests.http import running
from tests.outbound import free_port

CHROMIUM = os.environ.get("PRESSROOM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Every kind on the free plan, so one org shows every artifact type.
ALL_KINDS_PLANS = """
[plans.free]
monthly_quota = 100
max_concurrent_jobs = 2
allowed_kinds = ["summary", "key_points", "seo", "social_posts", "full_pack"]
max_priority = 5
"""


@dataclass
class Dashboard:
    url: str
    engine: Any


def chromium_or_skip() -> str:
    if os.environ.get("PRESSROOM_SKIP_BROWSER_TESTS"):
        pytest.skip("PRESSROOM_SKIP_BROWSER_TESTS is set (CI runs the browser tests once)")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(
            f"no chromium at {CHROMIUM}: apt-get install chromium (or set PRESSROOM_CHROMIUM)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    return CHROMIUM


@pytest.fixture
def dashboard(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Dashboard]:
    """The app on a free loopback port with `pressroom worker`'s two loops beside it: jobs,
    and the outbox, which (no SMTP configured) delivers mail to the dev mailbox."""
    chromium_or_skip()
    plans_path = tmp_path / "plans.toml"
    plans_path.write_text(ALL_KINDS_PLANS)
    monkeypatch.setenv("PRESSROOM_PLANS_FILE", str(plans_path))
    # Links in mail and webhooks start with public_url: the server's own, so chosen first.
    port = free_port()
    monkeypatch.setenv("PRESSROOM_PUBLIC_URL", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("PRESSROOM_SMTP_URL", raising=False)
    monkeypatch.delenv("PRESSROOM_ENVIRONMENT", raising=False)
    get_settings.cache_clear()
    plans.get_catalog.cache_clear()
    engine = make_engine(database_url, pool_size=10)
    settings = Settings(outbox_poll_interval=0.2)
    app = create_app(engine, settings)
    worker = Worker(
        engine,
        runner_for(settings),
        concurrency_policy(),
        WorkerConfig(concurrency=2, poll_interval=0.2, shutdown_grace=5),
    )
    worker_thread = threading.Thread(target=worker.run, daemon=True)
    worker_thread.start()
    outbox = delivery_loop(system_engine(engine, SystemDuty.OUTBOX), settings)
    outbox.start()
    try:
        with running(app, port) as url:
            yield Dashboard(url, engine)
    finally:
        outbox.stop()
        worker.stop()
        worker_thread.join(10)
        engine.dispose()
        get_settings.cache_clear()
        plans.get_catalog.cache_clear()


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = chromium_or_skip()
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
