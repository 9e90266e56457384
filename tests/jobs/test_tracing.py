"""With tracing on, a request, the job it submits, the worker's run, the engine call and the
webhook announcing the outcome are one trace (the SDK's in-memory exporter; a real app,
database, worker, delivery loop and receiver)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from pressroom import tracing
from pressroom.config import Settings
from pressroom.db.session import make_engine
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.jobs.engine_runner import engine_runner
from pressroom.jobs.queue import ConcurrencyPolicy
from pressroom.jobs.worker import Worker, WorkerConfig
from tests.jobs.test_api import org, submit  # noqa: F401 (org: a fixture)
from tests.outbound import Receiver, running_loop
from tests.webhooks.conftest import add_endpoint


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.enable(provider)
    yield exporter
    tracing._enabled = False


def _deliveries_of_jobs(spans: InMemorySpanExporter) -> list[ReadableSpan]:
    return [
        s
        for s in spans.get_finished_spans()
        if s.name == "outbox.deliver"
        and (s.attributes or {}).get("outbox.event_type") == "job.succeeded"
    ]


def test_request_job_engine_and_delivery_spans_share_a_trace(
    spans: InMemorySpanExporter,
    client: TestClient,
    org: tuple[str, dict[str, str]],  # noqa: F811
    database_url: str,
) -> None:
    org_id, headers = org
    receiver = Receiver().start()
    endpoint = add_endpoint(client, headers, org_id, receiver.url, event_types=["job.succeeded"])
    receiver.secrets = [endpoint["secret"]]
    job_id = submit(client, org).json()["id"]
    engine = make_engine(database_url, pool_size=3)
    worker = Worker(
        system_engine(engine, SystemDuty.WORKER),
        engine_runner(Settings()),
        ConcurrencyPolicy({}, 5),
        WorkerConfig(poll_interval=0.1),
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        with running_loop(engine):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not _deliveries_of_jobs(spans):
                time.sleep(0.05)
    finally:
        worker.stop()
        thread.join(30)
        engine.dispose()
        receiver.stop()
    by_name = {s.name: s for s in spans.get_finished_spans()}
    request = by_name[f"POST /v1/orgs/{org_id}/jobs"]
    run, generate = by_name["job.run"], by_name["engine.generate"]
    (deliver,) = _deliveries_of_jobs(spans)
    assert run.attributes is not None
    assert run.attributes["job.id"] == job_id
    assert [r.payload["data"]["job_id"] for r in receiver.received] == [job_id]
    trace_ids = {s.context.trace_id for s in (request, run, generate, deliver) if s.context}
    assert trace_ids == {request.context.trace_id}  # type: ignore[union-attr]
    assert run.parent is not None
    assert generate.parent is not None
    assert generate.parent.span_id == run.context.span_id  # type: ignore[union-attr]
