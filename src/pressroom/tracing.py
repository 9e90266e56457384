"""Optional OpenTelemetry traces: request -> job -> engine call -> outbound delivery.

Off by default. Nothing here imports opentelemetry until `configure` turns tracing on, so
the base install runs without the `otel` extra; while off, every helper is a no-op.
A job carries its request's trace context (W3C traceparent, as JSON) in
`content_jobs.trace_context`, so the worker's run continues the request's trace.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pressroom.config import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

_TRACER_NAME = "pressroom"
_enabled = False


def configure(settings: Settings) -> None:
    """Turn tracing on if the settings ask: spans go by OTLP/HTTP to the endpoint the
    standard OTEL_EXPORTER_OTLP_* variables name (default http://localhost:4318)."""
    if not settings.otel_enabled or _enabled:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "pressroom"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    enable(provider)


def enable(provider: TracerProvider) -> None:
    """Trace into `provider` (configure's, or a test's with an in-memory exporter)."""
    from opentelemetry import trace

    global _enabled
    trace.set_tracer_provider(provider)
    _enabled = True


def enabled() -> bool:
    return _enabled


@contextmanager
def span(
    name: str,
    attributes: Mapping[str, str | int | float | bool] | None = None,
    *,
    parent: str | None = None,
    server: bool = False,
) -> Iterator[None]:
    """A span around the block, a child of the current span, or of `parent` (a context
    saved by `current_context`) when given. A no-op while tracing is off."""
    if not _enabled:
        yield
        return
    from opentelemetry import trace
    from opentelemetry.propagate import extract

    context = extract(json.loads(parent)) if parent else None
    kind = trace.SpanKind.SERVER if server else trace.SpanKind.INTERNAL
    tracer = trace.get_tracer(_TRACER_NAME)
    with tracer.start_as_current_span(name, context=context, kind=kind, attributes=attributes):
        yield


def current_context() -> str | None:
    """The current trace context, to store with work done later elsewhere (None if off)."""
    if not _enabled:
        return None
    from opentelemetry.propagate import inject

    carrier: dict[str, Any] = {}
    inject(carrier)
    return json.dumps(carrier, sort_keys=True) if carrier else None
