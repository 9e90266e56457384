"""How the worker's runner turns engine failures into retry and refund decisions."""

from __future__ import annotations

import uuid

import pytest

from pressroom.config import Settings
from pressroom.jobs.engine_runner import engine_runner
from pressroom.jobs.queue import Claim
from pressroom.jobs.runner import JobFailed
from tests.generation.conftest import article
from tests.generation.fake_openai import FakeOpenAI, context_length_error


def claim(text: str) -> Claim:
    return Claim(
        id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        kind="summary",
        input={"text": text, "format": "markdown"},
        attempts=1,
        max_attempts=3,
        lease_token=uuid.uuid4(),
    )


def test_too_long_for_the_model_fails_at_once_and_is_refunded(
    fake_openai: tuple[FakeOpenAI, str],
) -> None:
    fake, base_url = fake_openai
    fake.fallback = context_length_error("llama.cpp")
    settings = Settings(engine="openai", openai_base_url=base_url, openai_max_retries=0)  # type: ignore[call-arg]
    run = engine_runner(settings)
    with pytest.raises(JobFailed) as info:
        run(claim(article("heat_pumps.md")), lambda: False)
    assert not info.value.retryable
    assert info.value.refundable


def test_unusable_input_is_not_refunded() -> None:
    run = engine_runner(Settings())
    with pytest.raises(JobFailed) as info:
        run(claim("#### $$$$ %%%% ^^^^ &&&& **** !!!!"), lambda: False)
    assert not info.value.retryable
    assert not info.value.refundable
