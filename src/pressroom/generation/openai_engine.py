"""An engine backed by any OpenAI-compatible chat-completions endpoint.

Retries are the official SDK's: on connection errors, timeouts, 408, 409, 429 and 5xx it
retries up to `max_retries` times, waiting what the server asks in `Retry-After-Ms` or
`Retry-After` (seconds or an HTTP date) when that is at most 120 s, otherwise exponential
backoff from 0.5 s to 8 s with jitter; a Retry-After beyond 120 s is not retried at all
(openai/_base_client.py, `_calculate_retry_timeout`, `_should_retry`). When the retries
are spent the error surfaces here and becomes a `TransientEngineError` carrying the
server's Retry-After, for the worker to honour.

The answer's shape is a JSON schema generated from the artifact models (prompts.py), sent
as `response_format` `json_schema`; a server that refuses it (400) gets JSON mode from then on.
An answer that is not content (placeholders, the prompt's own descriptions echoed, one post
for every network, an empty required field) is sampled again once, then fails with
`MalformedOutputError` saying what was wrong. A context-length error is the text being too
long for the model (`InputTooLongError`): not retried, and refunded (docs/generation.md).

The model writes the text artifacts; rendered HTML and statistics are computed, never
generated, so they come from the same code as the builtin engine's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import openai
import structlog
from pydantic import ValidationError

from pressroom.config import Settings
from pressroom.generation import extractive, readability, render, social
from pressroom.generation.base import (
    ArtifactDraft,
    GenerationRequest,
    GenerationResult,
    TokenUsage,
)
from pressroom.generation.builtin import (
    HTML,
    TEXT,
    json_artifact,
    key_points_artifact,
    meta_description_artifact,
    social_post_artifact,
)
from pressroom.generation.document import Document, parse
from pressroom.generation.errors import EngineError, InputTooLongError, TransientEngineError
from pressroom.generation.kinds import (
    ARTIFACT_TYPES_BY_KIND,
    META_DESCRIPTION_MAX_CHARS,
    TITLE_SUGGESTION_MAX_CHARS,
    ArtifactType,
    JobKind,
    Network,
    SourceInput,
)
from pressroom.generation.prompts import (
    REQUIRED_FIELDS,
    SYSTEM,
    asked_fields,
    echo_or_placeholder,
    field_descriptions,
    json_schema,
    output_model,
    user_prompt,
)
from pressroom.generation.quality import check_usable

log = structlog.get_logger(__name__)
_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")
# How servers word a prompt longer than the model's context (OpenAI, vLLM, llama.cpp, Ollama).
_CONTEXT_LENGTH = re.compile(
    r"context[_ ]length|context window|context size|maximum context|n_ctx|too many tokens|"
    r"prompt is too long|exceeds? the (?:available )?context",
    re.IGNORECASE,
)
# Hosted APIs answer in seconds; a local model on a CPU can take minutes for a long article.
HOSTED_TIMEOUT_S, LOCAL_TIMEOUT_S = 60.0, 600.0
SAMPLES = 2  # a malformed answer is sampled once more before the job fails
# Enough for every field at its limits; a model that loops inside a string stops here
# (finish_reason "length", a malformed answer) instead of filling its whole context.
MAX_TOKENS: dict[JobKind, int] = {
    JobKind.SUMMARY: 600,
    JobKind.KEY_POINTS: 700,
    JobKind.SEO: 700,
    JobKind.SOCIAL_POSTS: 1500,
    JobKind.FULL_PACK: 3000,
}


class MalformedOutputError(TransientEngineError):
    """The model answered, but not with the content asked for. Sampling again may succeed."""

    code = "engine_bad_output"
    title = "Generation engine returned unusable output"


class OpenAIEngine:
    name = "openai"

    def __init__(self, settings: Settings) -> None:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
        if not key and "api.openai.com" in settings.openai_base_url:
            raise EngineError("PRESSROOM_OPENAI_API_KEY is not set.")
        self._secret = key
        self.model = settings.openai_model
        self.temperature = settings.openai_temperature
        self.max_input_chars = settings.openai_max_input_chars
        # Until the server refuses a json_schema response_format; then JSON mode.
        self.structured = True
        self.hosted = "api.openai.com" in settings.openai_base_url
        default_timeout = HOSTED_TIMEOUT_S if self.hosted else LOCAL_TIMEOUT_S
        self.timeout_s = settings.openai_timeout_s or default_timeout
        self._client = openai.OpenAI(
            base_url=settings.openai_base_url,
            # Local OpenAI-compatible servers need no key, but the SDK insists on one.
            api_key=key or "not-needed",
            timeout=self.timeout_s,
            max_retries=settings.openai_max_retries,
        )

    def _scrub(self, text: str) -> str:
        # Upstream error messages may quote the key (OpenAI's 401 does, partly): never pass it on.
        return text.replace(self._secret, "***") if self._secret else text

    def _create(self, kind: JobKind, prompt: str, response_format: dict[str, Any]) -> Any:
        try:
            return self._client.chat.completions.create(  # type: ignore[call-overload]
                model=self.model,
                messages=[
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": prompt},
                ],
                response_format=response_format,
                temperature=self.temperature,
                max_tokens=MAX_TOKENS[kind],
            )
        except openai.APITimeoutError:
            raise TransientEngineError(
                f"The model did not answer within {self.timeout_s:g} s."
            ) from None
        except openai.APIConnectionError as exc:
            raise TransientEngineError(f"Cannot reach the model endpoint: {exc}") from None

    def _complete(self, kind: JobKind, data: SourceInput, doc: Document) -> tuple[str, TokenUsage]:
        article = doc.plain_text
        truncated = len(article) > self.max_input_chars
        prompt = user_prompt(data, kind, article[: self.max_input_chars], truncated)
        try:
            try:
                response_format = (
                    json_schema(data, kind, bounded=not self.hosted) if self.structured else None
                )
                response = self._create(kind, prompt, response_format or {"type": "json_object"})
            except openai.BadRequestError as exc:
                if not self.structured or _is_context_length(exc):
                    raise
                # A server without structured output (older vLLM, some proxies): JSON mode.
                log.warning("generation.openai.no_json_schema", detail=self._scrub(exc.message))
                self.structured = False
                response = self._create(kind, prompt, {"type": "json_object"})
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        if not response.choices or not response.choices[0].message.content:
            raise MalformedOutputError("The model returned an empty answer.")
        usage = response.usage
        tokens = TokenUsage(
            model=response.model or self.model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
        )
        if response.choices[0].finish_reason == "length":
            raise MalformedOutputError("The model's answer was cut off at its token limit.")
        return response.choices[0].message.content, tokens

    def _status_error(self, exc: openai.APIStatusError) -> Exception:
        status = exc.status_code
        message = self._scrub(f"The model endpoint answered {status}: {exc.message}")
        if _is_context_length(exc):
            return InputTooLongError(
                "The text is too long for the configured model's context; shorten it, or "
                "lower PRESSROOM_OPENAI_MAX_INPUT_CHARS."
            )
        if status in (408, 409, 429) or status >= 500:
            retry_after = _retry_after(exc)
            return TransientEngineError(message, retry_after=retry_after)
        return EngineError(message)

    def generate(self, request: GenerationRequest) -> GenerationResult:
        data = request.input
        doc = parse(data.text, data.format, data.title)
        check_usable(doc, data.language_code)
        prompt_tokens = completion_tokens = 0
        for sample in range(1, SAMPLES + 1):
            content, usage = self._complete(request.kind, data, doc)
            prompt_tokens += usage.prompt_tokens
            completion_tokens += usage.completion_tokens
            try:
                output = parse_output(content, data, request.kind)
                break
            except MalformedOutputError as exc:
                log.warning("generation.openai.malformed", sample=sample, detail=exc.detail)
                if sample == SAMPLES:
                    raise MalformedOutputError(
                        f"The model gave no usable answer in {SAMPLES} tries; the last one: "
                        f"{exc.detail}"
                    ) from None
        usage = TokenUsage(usage.model, prompt_tokens, completion_tokens)
        artifacts: list[ArtifactDraft] = []
        for artifact_type in ARTIFACT_TYPES_BY_KIND[request.kind]:
            artifacts += _artifacts(artifact_type, output, data, doc)
        log.info(
            "generation.openai",
            kind=request.kind.value,
            model=usage.model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )
        return GenerationResult(engine=self.name, artifacts=artifacts, usage=usage)


def _is_context_length(exc: openai.APIStatusError) -> bool:
    if exc.status_code not in (400, 413, 422):
        return False
    return exc.code == "context_length_exceeded" or bool(_CONTEXT_LENGTH.search(exc.message))


def _retry_after(exc: openai.APIStatusError) -> float | None:
    headers = exc.response.headers
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is not None:
            try:
                return float(value) * scale
            except ValueError:
                continue
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []


def parse_output(content: str, data: SourceInput, kind: JobKind) -> dict[str, Any]:
    """The model's JSON answer, validated; MalformedOutputError says what was wrong."""
    text = _FENCE.sub("", content)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedOutputError(
            f"The model's answer is not valid JSON ({exc.msg} at character {exc.pos})."
        ) from None
    if not isinstance(raw, dict):
        raise MalformedOutputError("The model's answer is JSON but not an object.")
    posts = raw.get("social_posts")
    if isinstance(posts, dict):  # X is Twitter: accept either key
        raw["social_posts"] = {k.strip().lower(): v for k, v in posts.items()}
        if "x" in raw["social_posts"]:
            raw["social_posts"].setdefault("twitter", raw["social_posts"].pop("x"))
    missing = [f for f in REQUIRED_FIELDS[kind] if not any(s.strip() for s in _strings(raw.get(f)))]
    if missing:
        raise MalformedOutputError(f"The model's answer lacks {', '.join(missing)}.")
    try:
        output = output_model(data, kind).model_validate(
            {k: raw[k] for k in asked_fields(kind) if k in raw}
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise MalformedOutputError(
            f"The model's answer has a bad field {where}: {first['msg']}."
        ) from None
    result: dict[str, Any] = output.model_dump()
    _check_content(result, data, kind)
    return result


def _check_content(output: dict[str, Any], data: SourceInput, kind: JobKind) -> None:
    descriptions = list(field_descriptions(data, kind).values())
    for name in asked_fields(kind):
        for value in _strings(output[name]):
            if not value.strip():
                raise MalformedOutputError(f"The model's answer has an empty item in {name}.")
            if name != "hashtags" and echo_or_placeholder(value, descriptions):
                raise MalformedOutputError(
                    f"The model's answer in {name} is a placeholder or the prompt's own "
                    f"wording, not content: {value[:80]!r}."
                )
    posts = output.get("social_posts") or {}
    bodies = [" ".join(_post_body(p).lower().split()) for p in posts.values()]
    if len(bodies) > 1 and len(set(bodies)) < len(bodies):
        raise MalformedOutputError("The model's answer repeats one post for several networks.")


_TRAILING_TAGS = re.compile(r"(?:\s+#[\w-]+)+\s*$")


def _post_body(text: str) -> str:
    """The post without the link or hashtags the model added although told not to."""
    text = social.URL.sub("", text)
    return _TRAILING_TAGS.sub("", " " + text).strip()


def _clean_list(items: Sequence[str], limit: int, max_chars: int | None = None) -> list[str]:
    out: dict[str, str] = {}
    for item in items:
        item = " ".join(str(item).split()).lstrip("-•* ").strip()
        if max_chars:
            item = extractive.clip(item, max_chars)
        if item:
            out.setdefault(item.lower(), item)
    return list(out.values())[:limit]


def _posts(output: dict[str, Any], data: SourceInput) -> list[ArtifactDraft]:
    url_value = getattr(data, "url", None)
    url = str(url_value) if url_value else None
    tags = social.hashtags(
        [str(t).lstrip("#") for t in output.get("hashtags") or []], getattr(data, "hashtags", 3)
    )
    drafts = []
    for network in getattr(data, "networks", list(Network)):
        body = _post_body(output["social_posts"][network.value])
        # Models miscount: the link and hashtags are ours, and the limit is enforced here.
        text = social.compose(network, [body], url=url, tags=tags)
        drafts.append(social_post_artifact(network, text, tags, "openai"))
    return drafts


def _artifacts(
    kind: ArtifactType, output: dict[str, Any], data: SourceInput, doc: Document
) -> list[ArtifactDraft]:
    match kind:
        case ArtifactType.SUMMARY:
            text = " ".join(output["summary"].split())
            return [ArtifactDraft(kind, TEXT, text, {"method": "abstractive"})]
        case ArtifactType.KEY_POINTS:
            points = _clean_list(output["key_points"], getattr(data, "points", 5))
            return [key_points_artifact(points, "openai")]
        case ArtifactType.KEYWORDS:
            words_ = _clean_list(output["keywords"], getattr(data, "keywords", 10), 80)
            return [json_artifact(kind, words_, method="openai")]
        case ArtifactType.TITLE_SUGGESTIONS:
            count = getattr(data, "titles", 5)
            titles = _clean_list(output["title_suggestions"], count, TITLE_SUGGESTION_MAX_CHARS)
            return [json_artifact(kind, titles, count=len(titles))]
        case ArtifactType.META_DESCRIPTION:
            text = extractive.clip(output["meta_description"], META_DESCRIPTION_MAX_CHARS)
            return [meta_description_artifact(text, "openai")]
        case ArtifactType.SOCIAL_POST:
            return _posts(output, data)
        case ArtifactType.RENDERED_HTML:
            markup = render.render(data.text, data.format, doc)
            return [ArtifactDraft(kind, HTML, markup, {"sanitizer": "nh3"})]
        case ArtifactType.STATS:
            return [json_artifact(kind, readability.stats(doc, data.language_code))]
