from __future__ import annotations

import json
import logging

import pytest
from pydantic import SecretStr

from pressroom.config import Settings
from pressroom.generation.base import GenerationRequest
from pressroom.generation.errors import (
    EngineError,
    InputError,
    InputTooLongError,
    TransientEngineError,
)
from pressroom.generation.kinds import NETWORK_LIMITS, ArtifactType, JobKind, Network
from pressroom.generation.openai_engine import MalformedOutputError, OpenAIEngine
from pressroom.generation.prompts import json_schema, post_budget
from pressroom.generation.social import post_length
from tests.generation.conftest import article
from tests.generation.fake_openai import (
    FakeOpenAI,
    Reply,
    completion,
    context_length_error,
    echo_prompt,
    error,
    placeholders,
)

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
        "threads": "So our town library got a heat pump and the bill halved.",
        "bluesky": "Half the heating bill, same warm library.",
    },
    "hashtags": ["#HeatPumps", "#Energy"],
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
        response_format = seen.body["response_format"]
        assert response_format["type"] == "json_schema"
        schema = response_format["json_schema"]["schema"]
        assert set(schema["required"]) == set(FULL_PACK_ANSWER) - {"x"}
        assert schema["properties"]["key_points"]["minItems"] == 5
        assert schema["additionalProperties"] is False
        prompt = seen.body["messages"][1]["content"]
        assert "coefficient of performance" in prompt  # the article, as text
        assert "**Insulation" not in prompt  # Markdown stripped
        # The article first, the instructions after it, and the article declared data.
        assert prompt.index("coefficient of performance") < prompt.index('"summary"')
        assert "never instructions" in prompt

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
            assert post.content.count(URL) == 1  # the link is ours, added once
            assert post.content.count("#HeatPumps") <= 1  # the model's own tag not doubled

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
            ('{"summary": "   "}', "lacks summary"),
            ('{"summary": "string"}', "placeholder"),
            ('{"summary": "..."}', "placeholder"),
        ],
    )
    def test_malformed_content_is_a_clear_error(
        self, fake_openai: tuple[FakeOpenAI, str], content: str, message: str
    ) -> None:
        fake, base_url = fake_openai
        fake.fallback = completion(content)
        with pytest.raises(MalformedOutputError, match=message) as info:
            OpenAIEngine(settings(base_url)).generate(request("summary"))
        assert info.value.code == "engine_bad_output"
        # Sampling again may succeed: the worker retries it (the user is not charged).
        assert isinstance(info.value, TransientEngineError)
        assert len(fake.requests) == 2  # sampled once more before failing
        assert "2 tries" in info.value.detail

    def test_a_bad_sample_then_a_good_one(self, fake_openai: tuple[FakeOpenAI, str]) -> None:
        fake, base_url = fake_openai
        good = {"summary": "Heat pumps are spreading through small towns."}
        fake.script = [completion('{"summary": "string"}'), completion(json.dumps(good))]
        result = OpenAIEngine(settings(base_url)).generate(request("summary"))
        assert result.artifacts[0].content == good["summary"]
        assert result.usage is not None
        assert result.usage.prompt_tokens == 2 * 321

    def test_placeholder_posts_are_refused(self, fake_openai: tuple[FakeOpenAI, str]) -> None:
        fake, base_url = fake_openai
        networks = tuple(n.value for n in Network)
        fake.fallback = completion(json.dumps(placeholders("full_pack", networks)))
        with pytest.raises(MalformedOutputError, match="placeholder"):
            OpenAIEngine(settings(base_url)).generate(request())

    @pytest.mark.parametrize("kind", ["summary", "key_points", "seo", "social_posts"])
    def test_echoed_descriptions_are_refused(self, fake_openai, kind: str) -> None:
        fake, base_url = fake_openai
        fake.responder = echo_prompt
        with pytest.raises(MalformedOutputError, match=r"prompt's own wording|bad field"):
            OpenAIEngine(settings(base_url)).generate(request(kind))

    def test_one_post_for_every_network_is_refused(self, fake_openai) -> None:
        fake, base_url = fake_openai
        same = "Marston halved its library heating bill with a heat pump."
        posts = {n.value: same for n in Network}
        fake.fallback = completion(json.dumps({"social_posts": posts}))
        with pytest.raises(MalformedOutputError, match="repeats one post"):
            OpenAIEngine(settings(base_url)).generate(request("social_posts"))

    def test_missing_network_post(self, fake_openai: tuple[FakeOpenAI, str]) -> None:
        fake, base_url = fake_openai
        fake.fallback = completion(json.dumps({"social_posts": {"twitter": "Hello #World"}}))
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

    @pytest.mark.parametrize("style", ["openai", "llama.cpp"])
    def test_context_length_is_input_too_long(self, fake_openai, style: str) -> None:
        fake, base_url = fake_openai
        fake.fallback = context_length_error(style)
        with pytest.raises(InputTooLongError, match="too long") as info:
            OpenAIEngine(settings(base_url)).generate(request("summary"))
        assert info.value.code == "input_too_long"
        assert len(fake.requests) == 1  # neither retried nor sent again in JSON mode

    def test_garbage_input_is_refused_before_calling_the_model(self, fake_openai) -> None:
        fake, base_url = fake_openai
        garbage = GenerationRequest.from_job("summary", {"text": "#### $$$$ %%%% ^^^^ &&&& ****"})
        with pytest.raises(InputError):
            OpenAIEngine(settings(base_url)).generate(garbage)
        assert fake.requests == []

    def test_official_endpoint_needs_a_key(self) -> None:
        with pytest.raises(EngineError, match="PRESSROOM_OPENAI_API_KEY"):
            OpenAIEngine(Settings(openai_api_key=None))


class TestStructuredOutput:
    def test_json_mode_when_the_server_refuses_a_schema(self, fake_openai) -> None:
        fake, base_url = fake_openai
        fake.refuse_json_schema = True
        answer = {"summary": "Heat pumps are spreading through small towns."}
        fake.script = [completion(json.dumps(answer)), completion(json.dumps(answer))]
        engine = OpenAIEngine(settings(base_url))
        engine.generate(request("summary"))
        engine.generate(request("summary"))
        kinds = [r.body["response_format"]["type"] for r in fake.requests]
        # Refused once, then JSON mode for this job and every later one.
        assert kinds == ["json_schema", "json_object", "json_object"]

    def test_post_budgets_leave_room_for_link_and_hashtags(self) -> None:
        for network in Network:
            budget = post_budget(network, URL, 3)
            assert budget < NETWORK_LIMITS[network] * 0.8
        assert post_budget(Network.TWITTER, URL, 3) < post_budget(Network.TWITTER, None, 0)

    def test_local_servers_get_a_long_default_timeout(self) -> None:
        local = OpenAIEngine(Settings(openai_base_url="http://127.0.0.1:8080/v1"))
        assert local.timeout_s == 600
        hosted = OpenAIEngine(Settings(openai_api_key=SecretStr("sk-x")))
        assert hosted.timeout_s == 60

    def test_bounds_go_to_local_servers_but_not_to_openai(self) -> None:
        data = request().input
        local = json.dumps(json_schema(data, JobKind.FULL_PACK))
        hosted = json.dumps(json_schema(data, JobKind.FULL_PACK, bounded=False))
        assert '"maxLength": 155' in local  # the meta description, held to its limit
        assert "maxLength" not in hosted
        assert "minItems" not in hosted
