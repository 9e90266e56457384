from __future__ import annotations

import json
import logging

import pytest
from pydantic import SecretStr

from pressroom.config import Settings
from pressroom.generation.base import GenerationRequest
from pressroom.generation.errors import EngineError, InputError, TransientEngineError
from pressroom.generation.kinds import NETWORK_LIMITS, ArtifactType, Network
from pressroom.generation.openai_engine import MalformedOutputError, OpenAIEngine
from pressroom.generation.social import post_length
from tests.generation.conftest import article
from tests.generation.fake_openai import FakeOpenAI, Reply, completion, error

API_KEY = "sk-test-0123456789-very-secret"
URL = "https://example.org/heat-pumps"

FULL_PACK_ANSWER = {
    "summary": "Marston replaced a failed oil furnace with a heat pump and halved its bill.",
    "key_points": ["Heat pumps move heat.", "Insulate first.", "Size them correctly."],
    "meta_description": "How a small town cut its library heating bill in half with a heat pump "
    "and what other towns can learn from it before they replace their old oil furnaces "
    "next winter.",
    "keywords": ["heat pump", "Marston", "heat pump"],
    "title_suggestions": ["Why Small Towns Choose Heat Pumps", "X" * 90],
    "social_posts": {
        "x": "Marston halved its library heating bill with a heat pump. " * 8 + "#HeatPumps",
        "linkedin": "A small town's big heating lesson. #HeatPumps",
        "mastodon": "Heat pumps in small towns. #HeatPumps",
        "threads": "Heat pumps in small towns.",
        "bluesky": "Heat pumps in small towns.",
    },
}


def settings(base_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "openai_base_url": base_url,
        "openai_api_key": SecretStr(API_KEY),
        "openai_model": "fake-model",
        "openai_max_retries": 2,
        "openai_timeout_s": 5.0,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def request(kind: str = "full_pack", **options: object) -> GenerationRequest:
    data = {"text": article("heat_pumps.md"), "format": "markdown", "url": URL, **options}
    if kind not in ("full_pack", "social_posts"):
        data.pop("url")
    return GenerationRequest.from_job(kind, data)


def fast_retry(reply: Reply) -> Reply:
    # Tell the SDK to wait 10 ms (Retry-After-Ms), so retry tests do not sleep for seconds.
    reply.headers.setdefault("retry-after-ms", "10")
    return reply


class TestSuccess:
    def test_full_pack_from_the_model(self, fake_openai: tuple[FakeOpenAI, str]) -> None:
        fake, base_url = fake_openai
        fake.script = [completion(json.dumps(FULL_PACK_ANSWER))]
        result = OpenAIEngine(settings(base_url)).generate(request())
        assert result.engine == "openai"
        assert {a.type for a in result.artifacts} == set(ArtifactType)
        summary = result.of_type(ArtifactType.SUMMARY)[0]
        assert summary.content == FULL_PACK_ANSWER["summary"]

        (seen,) = fake.requests
        assert seen.path == "/v1/chat/completions"
        assert seen.headers["authorization"] == f"Bearer {API_KEY}"
        assert seen.body["model"] == "fake-model"
        assert seen.body["response_format"] == {"type": "json_object"}
        prompt = seen.body["messages"][1]["content"]
        assert "coefficient of performance" in prompt  # the article, as text
        assert "**Insulation" not in prompt  # Markdown stripped

    def test_usage_is_recorded(self, fake_openai: tuple[FakeOpenAI, str]) -> None:
        fake, base_url = fake_openai
        answer = {"summary": "A short summary of the article about heat pumps."}
        fake.script = [completion(json.dumps(answer), prompt_tokens=812, completion_tokens=64)]
        result = OpenAIEngine(settings(base_url)).generate(request("summary"))
        assert result.usage is not None
        assert (result.usage.model, result.usage.prompt_tokens) == ("fake-model-2024", 812)
        assert result.usage.completion_tokens == 64
        assert result.usage.total_tokens == 876

    def test_limits_are_enforced_after_parsing(self, fake_openai: tuple[FakeOpenAI, str]) -> None:
        fake, base_url = fake_openai
        fake.script = [completion(json.dumps(FULL_PACK_ANSWER))]
        result = OpenAIEngine(settings(base_url)).generate(request())
        meta = result.of_type(ArtifactType.META_DESCRIPTION)[0].content
        assert len(meta) <= 155
        assert meta.endswith("…")
        titles = json.loads(result.of_type(ArtifactType.TITLE_SUGGESTIONS)[0].content)
        assert all(len(t) <= 70 for t in titles)
        keywords = json.loads(result.of_type(ArtifactType.KEYWORDS)[0].content)
        assert keywords == ["heat pump", "Marston"]
        for post in result.of_type(ArtifactType.SOCIAL_POST):
            network = Network(post.metadata["network"])
            assert post_length(network, post.content) <= NETWORK_LIMITS[network]
            assert URL in post.content  # the link was asked for; added where missing

    def test_json_in_a_code_fence_is_accepted(self, fake_openai: tuple[FakeOpenAI, str]):
        fake, base_url = fake_openai
        fake.script = [completion('```json\n{"key_points": ["One.", "Two.", "Three."]}\n```')]
        result = OpenAIEngine(settings(base_url)).generate(request("key_points"))
        assert result.artifacts[0].content == "- One.\n- Two.\n- Three."


class TestRetries:
    def test_429_with_retry_after_then_success(self, fake_openai: tuple[FakeOpenAI, str]):
        fake, base_url = fake_openai
        answer = json.dumps({"summary": "Heat pumps are spreading through small towns."})
        fake.script = [error(429, "slow down", **{"retry-after": "1"}), completion(answer)]
        result = OpenAIEngine(settings(base_url)).generate(request("summary"))
        assert result.of_type(ArtifactType.SUMMARY)[0].content.startswith("Heat pumps")
        assert len(fake.requests) == 2
        # Waited as told (1 s), not the SDK's own first back-off (at most 0.5 s).
        assert fake.requests[1].at - fake.requests[0].at >= 0.9

    def test_500_then_success(self, fake_openai: tuple[FakeOpenAI, str]) -> None:
        fake, base_url = fake_openai
        answer = json.dumps({"summary": "Heat pumps are spreading through small towns."})
        fake.script = [fast_retry(error(500)), fast_retry(error(503)), completion(answer)]
        result = OpenAIEngine(settings(base_url)).generate(request("summary"))
        assert result.artifacts[0].content.startswith("Heat pumps")
        assert len(fake.requests) == 3

    def test_persistent_5xx_is_transient(self, fake_openai: tuple[FakeOpenAI, str]) -> None:
        fake, base_url = fake_openai
        fake.fallback = fast_retry(error(502, "bad gateway"))
        with pytest.raises(TransientEngineError) as info:
            OpenAIEngine(settings(base_url)).generate(request("summary"))
        assert "502" in info.value.detail
        assert len(fake.requests) == 3  # first try + max_retries

    def test_long_retry_after_is_passed_to_the_worker(self, fake_openai) -> None:
        fake, base_url = fake_openai
        # Beyond the SDK's 120 s ceiling it does not wait in-process: the worker reschedules.
        fake.fallback = error(429, "quota", **{"retry-after": "600"})
        with pytest.raises(TransientEngineError) as info:
            OpenAIEngine(settings(base_url)).generate(request("summary"))
        assert info.value.retry_after == 600
        assert len(fake.requests) == 1

    def test_timeout_is_transient(self, fake_openai: tuple[FakeOpenAI, str]) -> None:
        fake, base_url = fake_openai
        fake.fallback = Reply(status=200, body={}, delay_s=1.0)
        engine = OpenAIEngine(settings(base_url, openai_timeout_s=0.2, openai_max_retries=0))
        with pytest.raises(TransientEngineError, match="did not answer"):
            engine.generate(request("summary"))

    def test_unreachable_endpoint_is_transient(self) -> None:
        engine = OpenAIEngine(settings("http://127.0.0.1:9/v1", openai_max_retries=0))
        with pytest.raises(TransientEngineError, match="Cannot reach"):
            engine.generate(request("summary"))


class TestBadOutput:
    @pytest.mark.parametrize(
        ("content", "message"),
        [
            ("Sure! Here is your summary: heat pumps are great.", "not valid JSON"),
            ('["a", "b"]', "not an object"),
            ('{"summary": ["not", "a", "string"]}', "bad field summary"),
            ('{"keywords": ["heat"]}', "lacks summary"),
        ],
    )
    def test_malformed_content_is_a_clear_error(
        self, fake_openai: tuple[FakeOpenAI, str], content: str, message: str
    ) -> None:
        fake, base_url = fake_openai
        fake.script = [completion(content)]
        with pytest.raises(MalformedOutputError, match=message) as info:
            OpenAIEngine(settings(base_url)).generate(request("summary"))
        assert info.value.code == "engine_bad_output"
        # Sampling again may succeed: the worker retries it.
        assert isinstance(info.value, TransientEngineError)

    def test_missing_network_post(self, fake_openai: tuple[FakeOpenAI, str]) -> None:
        fake, base_url = fake_openai
        fake.script = [completion(json.dumps({"social_posts": {"twitter": "Hello #World"}}))]
        with pytest.raises(MalformedOutputError, match="linkedin"):
            OpenAIEngine(settings(base_url)).generate(request("social_posts"))


class TestPermanentErrors:
    def test_rejected_key_is_an_engine_error_and_never_leaks(
        self,
        fake_openai: tuple[FakeOpenAI, str],
        caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        fake, base_url = fake_openai
        fake.fallback = error(401, f"Incorrect API key provided: {API_KEY}")
        caplog.set_level(logging.DEBUG)
        with pytest.raises(EngineError) as info:
            OpenAIEngine(settings(base_url)).generate(request("summary"))
        assert not isinstance(info.value, TransientEngineError)
        assert "401" in info.value.detail
        assert API_KEY not in info.value.detail
        assert API_KEY not in caplog.text
        captured = capsys.readouterr()
        assert API_KEY not in captured.out + captured.err
        assert len(fake.requests) == 1

    def test_context_length_is_an_input_error(self, fake_openai: tuple[FakeOpenAI, str]) -> None:
        fake, base_url = fake_openai
        reply = error(400, "maximum context length exceeded")
        reply.body["error"]["code"] = "context_length_exceeded"
        fake.fallback = reply
        with pytest.raises(InputError, match="too long"):
            OpenAIEngine(settings(base_url)).generate(request("summary"))

    def test_garbage_input_is_refused_before_calling_the_model(self, fake_openai) -> None:
        fake, base_url = fake_openai
        garbage = GenerationRequest.from_job("summary", {"text": "#### $$$$ %%%% ^^^^ &&&& ****"})
        with pytest.raises(InputError):
            OpenAIEngine(settings(base_url)).generate(garbage)
        assert fake.requests == []

    def test_official_endpoint_needs_a_key(self) -> None:
        with pytest.raises(EngineError, match="PRESSROOM_OPENAI_API_KEY"):
            OpenAIEngine(Settings(openai_api_key=None))
