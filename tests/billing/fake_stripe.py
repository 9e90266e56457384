"""A local stand-in for api.stripe.com: records each form-encoded request, answers with
Stripe's own example objects (or an error when told to)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from pressroom.billing import plans
from pressroom.config import get_settings
from tests.billing import stripe_events as se


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]


@dataclass
class FakeStripe:
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    fail_with: int | None = None


def _answer(path: str) -> dict[str, Any]:
    if path == "/v1/checkout/sessions":
        obj = se.resource("checkout.session")
        obj.update(id="cs_test_fake", mode="subscription", status="open")
        obj["url"] = "https://checkout.stripe.com/c/pay/cs_test_fake"
        return obj
    if path == "/v1/billing_portal/sessions":
        obj = se.resource("billing_portal.session")
        obj.update(id="bps_fake", url="https://billing.stripe.com/p/session/bps_fake")
        return obj
    raise KeyError(path)


@contextmanager
def fake_stripe() -> Iterator[FakeStripe]:
    state = FakeStripe()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            state.requests.append(Recorded("POST", self.path, dict(self.headers), parse_qs(body)))
            if state.fail_with is not None:
                status = state.fail_with
                payload: dict[str, Any] = {
                    "error": {"type": "invalid_request_error", "message": "No such price"}
                }
            else:
                try:
                    status, payload = 200, _answer(self.path)
                except KeyError:
                    status, payload = 404, {"error": {"message": "unknown path"}}
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_fake")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def stripe_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    """The fake Stripe, with a catalog whose pro plan is its price: what checkout needs."""
    path = tmp_path / "plans.toml"
    path.write_text('[plans.pro]\nstripe_price_ids = ["price_pro_monthly"]\n')
    monkeypatch.setenv("PRESSROOM_PLANS_FILE", str(path))
    get_settings.cache_clear()
    plans.get_catalog.cache_clear()
    with fake_stripe() as fake:
        yield fake
    get_settings.cache_clear()
    plans.get_catalog.cache_clear()
