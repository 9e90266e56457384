"""An engine backed by any OpenAI-compatible chat-completions endpoint.

Retries are the official SDK's: on connection errors, timeouts, 408, 409, 429 and 5xx it
retries up to `max_retries` times, waiting what the server asks in `Retry-After-Ms` or
`Retry-After` (seconds or an HTTP date) when that is at most 120 s, otherwise exponential
backoff from 0.5 s to 8 s with jitter; a Retry-After beyond 120 s is not retried at all
(openai/_base_client.py, `_calculate_retry_timeout`, `_should_retry`). When the retries
are spent the error surfaces here and becomes a `TransientEngineError` carrying the
server's Retry-After, for the worker to honour.

The model writes the text artifacts; rendered HTML and statistics are computed, never
generated, so they come from the same code as the builtin engine's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

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
from pressroom.generation.errors import EngineError, InputError, TransientEngineError
from pressroom.generation.kinds import (
    ARTIFACT_TYPES_BY_KIND,
    META_DESCRIPTION_MAX_CHARS,
    TITLE_SUGGESTION_MAX_CHARS,
    ArtifactType,
    JobKind,
    Network,
    SourceInput,
)
from pressroom.generation.prompts import REQUIRED_FIELDS, SYSTEM, ModelOutput, user_prompt
from pressroom.generation.quality import check_usable

log = structlog.get_logger(__name__)
_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")


class MalformedOutputError(TransientEngineError):
    """The model answered, but not with the JSON asked for. Sampling again may succeed."""

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
        self.timeout_s = settings.openai_timeout_s
        self._client = openai.OpenAI(
            base_url=settings.openai_base_url,
            # Local OpenAI-compatible servers need no key, but the SDK insists on one.
            api_key=key or "not-needed",
            timeout=settings.openai_timeout_s,
            max_retries=settings.openai_max_retries,
        )

    def _scrub(self, text: str) -> str:
        # Upstream error messages may quote the key (OpenAI's 401 does, partly): never pass it on.
        return text.replace(self._secret, "***") if self._secret else text

    def _complete(self, kind: JobKind, data: SourceInput, doc: Document) -> tuple[str, TokenUsage]:
        article = doc.plain_text
        truncated = len(article) > self.max_input_chars
        prompt = user_prompt(data, kind, article[: self.max_input_chars], truncated)
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": prompt},
                ],
                response_format={"type": "json_object"},
                temperature=self.temperature,
            )
        except openai.APITimeoutError:
            raise TransientEngineError(
                f"The model did not answer within {self.timeout_s:g} s."
            ) from None
        except openai.APIConnectionError as exc:
            raise TransientEngineError(f"Cannot reach the model endpoint: {exc}") from None
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
        if status in (408, 409, 429) or status >= 500:
            retry_after = _retry_after(exc)
            return TransientEngineError(message, retry_after=retry_after)
        if exc.code == "context_length_exceeded":
            return InputError("The text is too long for the configured model.")
        return EngineError(message)

    def generate(self, request: GenerationRequest) -> GenerationResult:
        data = request.input
        doc = parse(data.text, data.format, data.title)
        check_usable(doc, data.language_code)
        content, usage = self._complete(request.kind, data, doc)
        output = parse_output(content, request.kind)
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


def parse_output(content: str, kind: JobKind) -> ModelOutput:
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
    try:
        output = ModelOutput.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise MalformedOutputError(
            f"The model's answer has a bad field {where}: {first['msg']}."
        ) from None
    missing = [f for f in REQUIRED_FIELDS[kind] if not getattr(output, f)]
    if missing:
        raise MalformedOutputError(f"The model's answer lacks {', '.join(missing)}.")
    return output


def _clean_list(items: Sequence[str], limit: int, max_chars: int | None = None) -> list[str]:
    out: dict[str, str] = {}
    for item in items:
        item = " ".join(str(item).split()).lstrip("-•* ").strip()
        if max_chars:
            item = extractive.clip(item, max_chars)
        if item:
            out.setdefault(item.lower(), item)
    return list(out.values())[:limit]


def _posts(output: ModelOutput, data: SourceInput) -> list[ArtifactDraft]:
    url_value = getattr(data, "url", None)
    url = str(url_value) if url_value else None
    given = {k.strip().lower(): v for k, v in (output.social_posts or {}).items()}
    if "x" in given:
        given.setdefault("twitter", given["x"])
    drafts = []
    for network in getattr(data, "networks", list(Network)):
        text = given.get(network.value, "").strip()
        if not text:
            raise MalformedOutputError(f"The model's answer lacks the {network.value} post.")
        # Models miscount: enforce the limit ourselves, keeping the link when one was asked.
        link = url if url and url not in text else None
        if link or not social.fits(network, text):
            text = social.compose(network, [text], url=link)
        tags = [w for w in text.split() if w.startswith("#")]
        drafts.append(social_post_artifact(network, text, tags, "openai"))
    return drafts


def _artifacts(
    kind: ArtifactType, output: ModelOutput, data: SourceInput, doc: Document
) -> list[ArtifactDraft]:
    match kind:
        case ArtifactType.SUMMARY:
            text = " ".join((output.summary or "").split())
            return [ArtifactDraft(kind, TEXT, text, {"method": "abstractive"})]
        case ArtifactType.KEY_POINTS:
            points = _clean_list(output.key_points or [], getattr(data, "points", 5))
            return [key_points_artifact(points, "openai")]
        case ArtifactType.KEYWORDS:
            words_ = _clean_list(output.keywords or [], getattr(data, "keywords", 10), 80)
            return [json_artifact(kind, words_, method="openai")]
        case ArtifactType.TITLE_SUGGESTIONS:
            count = getattr(data, "titles", 5)
            titles = _clean_list(output.title_suggestions or [], count, TITLE_SUGGESTION_MAX_CHARS)
            return [json_artifact(kind, titles, count=len(titles))]
        case ArtifactType.META_DESCRIPTION:
            text = extractive.clip(output.meta_description or "", META_DESCRIPTION_MAX_CHARS)
            return [meta_description_artifact(text, "openai")]
        case ArtifactType.SOCIAL_POST:
            return _posts(output, data)
        case ArtifactType.RENDERED_HTML:
            markup = render.render(data.text, data.format, doc)
            return [ArtifactDraft(kind, HTML, markup, {"sanitizer": "nh3"})]
        case ArtifactType.STATS:
            return [json_artifact(kind, readability.stats(doc, data.language_code))]
