"""Runs a claimed job through its generation engine (the worker's default runner)."""

from __future__ import annotations

from pressroom import tracing
from pressroom.config import Settings
from pressroom.generation.base import GenerationRequest
from pressroom.generation.errors import (
    EngineError,
    InputError,
    InputTooLongError,
    TransientEngineError,
)
from pressroom.generation.registry import engine_for
from pressroom.jobs.queue import ArtifactRow, Claim
from pressroom.jobs.runner import Canceled, JobFailed, Runner, RunResult, ShouldStop


def engine_runner(settings: Settings) -> Runner:
    def run(claim: Claim, should_stop: ShouldStop) -> RunResult:
        try:
            request = GenerationRequest.from_job(claim.kind, claim.input)
            engine = engine_for(request.kind, settings)
            with tracing.span("engine.generate", {"job.kind": claim.kind}):
                result = engine.generate(request)
        except InputError as exc:
            # Too long for the model is the deployment's limit, not the user's fault: refunded.
            refundable = isinstance(exc, InputTooLongError)
            raise JobFailed(exc.detail, retryable=False, refundable=refundable) from exc
        except TransientEngineError as exc:
            raise JobFailed(exc.detail, retryable=True, retry_after=exc.retry_after) from exc
        except EngineError as exc:
            raise JobFailed(exc.detail, retryable=False, refundable=True) from exc
        if should_stop():
            raise Canceled()
        usage = None
        if result.usage is not None:
            usage = {
                "engine": result.engine,
                "model": result.usage.model,
                "prompt_tokens": result.usage.prompt_tokens,
                "completion_tokens": result.usage.completion_tokens,
            }
        return RunResult(
            artifacts=[
                ArtifactRow(a.type.value, a.media_type, a.content, a.metadata)
                for a in result.artifacts
            ],
            usage=usage,
        )

    return run
