"""Real parts for the outbound tests: an HTTP receiver that verifies every delivery with
the Standard Webhooks library, an SMTP server (aiosmtpd), and the delivery loop."""

from __future__ import annotations

import email
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from pressroom.config import Settings
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.outbox.cli import delivery_loop
from pressroom.outbox.worker import DeliveryLoop


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def wait_until(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    payload: Any  # what Webhook.verify returned (None when it failed)
    verified_by: list[str] = field(default_factory=list)  # which secrets verified it


class Receiver:
    """POST /hook on 127.0.0.1. `mode`: "ok" (204), "ok-200" (200 with a short body),
    "fail" (500), "hang" (never answers while hanging), "redirect" (302), "big" (200 with a
    64 kB body)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.secrets: list[str] = []
        self.mode = "ok"
        self.received: list[Received] = []
        self.release = threading.Event()  # ends the hang
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died mid-request (a kill -9 test): no delivery arrived, as
                    # for any HTTP server; the outbox sends it again.
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                entry = Received(headers, body, None)
                for secret in receiver.secrets:
                    try:
                        entry.payload = Webhook(secret).verify(body, headers)
                        entry.verified_by.append(secret)
                    except WebhookVerificationError:
                        pass
                receiver.received.append(entry)
                mode = receiver.mode
                if mode == "hang":
                    receiver.release.wait(60)
                    return
                status = {"ok": 204, "ok-200": 200, "fail": 500, "redirect": 302, "big": 200}[mode]
                self.send_response(status)
                if mode == "redirect":
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                data = {"big": b"x" * 65536, "ok-200": b"received"}.get(mode, b"")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def verified(self) -> list[Received]:
        return [r for r in self.received if r.verified_by]


class _Sink:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[str, list[Message]]]:
    """A real SMTP server in this process: (smtp:// URL, the messages it received)."""
    sink = _Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", sink.messages
    finally:
        controller.stop()


def text_part(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text part")


FAST = {
    "outbox_poll_interval": 0.05,
    "outbox_retry_base_seconds": 0.2,
    "outbox_retry_max_delay_seconds": 0.5,
}


@contextmanager
def running_loop(engine: Engine, **settings: Any) -> Iterator[DeliveryLoop]:
    """The real delivery loop on a thread, with fast polling and retries."""
    # As `pressroom worker` runs it: under the outbox's duty, across orgs.
    loop = delivery_loop(system_engine(engine, SystemDuty.OUTBOX), Settings(**{**FAST, **settings}))
    loop.start()
    try:
        yield loop
    finally:
        loop.stop()
