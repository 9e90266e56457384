"""Job kinds, their validated input, and the artifacts each produces: the one place they live.

The jobs API validates a submitted job's `input` with `INPUT_MODELS[kind]` (or `JobSpec`, a
union discriminated by `kind`); the engines receive the validated model.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    field_validator,
)

TEXT_MIN_CHARS = 20
TEXT_MAX_CHARS = 200_000
TITLE_MAX_CHARS = 300
META_DESCRIPTION_MAX_CHARS = 155
TITLE_SUGGESTION_MAX_CHARS = 70


class JobKind(enum.StrEnum):
    SUMMARY = "summary"
    KEY_POINTS = "key_points"
    SEO = "seo"
    SOCIAL_POSTS = "social_posts"
    FULL_PACK = "full_pack"


class SourceFormat(enum.StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    HTML = "html"


class Network(enum.StrEnum):
    TWITTER = "twitter"
    LINKEDIN = "linkedin"
    MASTODON = "mastodon"
    THREADS = "threads"
    BLUESKY = "bluesky"


# Each network's post limit, in that network's own unit (see generation/social.py).
NETWORK_LIMITS: dict[Network, int] = {
    Network.TWITTER: 280,
    Network.LINKEDIN: 3000,
    Network.MASTODON: 500,
    Network.THREADS: 500,
    Network.BLUESKY: 300,
}


class ArtifactType(enum.StrEnum):
    SUMMARY = "summary"
    KEY_POINTS = "key_points"
    KEYWORDS = "keywords"
    TITLE_SUGGESTIONS = "title_suggestions"
    META_DESCRIPTION = "meta_description"
    SOCIAL_POST = "social_post"
    RENDERED_HTML = "rendered_html"
    STATS = "stats"


_SEO = (ArtifactType.META_DESCRIPTION, ArtifactType.KEYWORDS, ArtifactType.TITLE_SUGGESTIONS)
ARTIFACT_TYPES_BY_KIND: dict[JobKind, tuple[ArtifactType, ...]] = {
    JobKind.SUMMARY: (ArtifactType.SUMMARY,),
    JobKind.KEY_POINTS: (ArtifactType.KEY_POINTS,),
    JobKind.SEO: _SEO,
    JobKind.SOCIAL_POSTS: (ArtifactType.SOCIAL_POST,),
    JobKind.FULL_PACK: (
        ArtifactType.SUMMARY,
        ArtifactType.KEY_POINTS,
        *_SEO,
        ArtifactType.SOCIAL_POST,
        ArtifactType.RENDERED_HTML,
        ArtifactType.STATS,
    ),
}


def _network_alias(value: Any) -> Any:
    # X is Twitter's current name; accept both, store one.
    return "twitter" if isinstance(value, str) and value.strip().lower() == "x" else value


NetworkName = Annotated[Network, BeforeValidator(_network_alias)]
SourceText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=TEXT_MIN_CHARS, max_length=TEXT_MAX_CHARS),
]


class SourceInput(BaseModel):
    """What every kind takes: the source text and how to read it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: SourceText = Field(description="The source article: plain text, Markdown or HTML.")
    format: SourceFormat = Field(default=SourceFormat.TEXT, description="How `text` is written.")
    title: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=TITLE_MAX_CHARS)] | None
    ) = None
    language: str = Field(
        default="en",
        pattern=r"^[a-z]{2}(-[A-Za-z]{2,4})?$",
        description="BCP 47 language tag of the text, e.g. `en` or `pt-BR`.",
    )

    @field_validator("text", "title")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        # PostgreSQL text and jsonb cannot hold U+0000; refuse it here, not at INSERT time.
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value

    @property
    def language_code(self) -> str:
        return self.language[:2]


class SummaryOptions(BaseModel):
    sentences: int = Field(default=5, ge=1, le=15, description="Sentences in the summary.")


class KeyPointsOptions(BaseModel):
    points: int = Field(default=5, ge=3, le=10, description="Number of key points.")


class SeoOptions(BaseModel):
    keywords: int = Field(default=10, ge=3, le=25, description="Number of keywords.")
    titles: int = Field(default=5, ge=1, le=10, description="Number of title suggestions.")


class SocialOptions(BaseModel):
    networks: list[NetworkName] = Field(
        default_factory=lambda: list(Network),
        min_length=1,
        max_length=len(Network),
        description="Networks to write a post for (`x` is accepted for `twitter`).",
    )
    url: HttpUrl | None = Field(default=None, description="Link to put in every post.")
    hashtags: int = Field(default=3, ge=0, le=5, description="Hashtags per post, at most.")

    @field_validator("networks")
    @classmethod
    def _unique(cls, value: list[Network]) -> list[Network]:
        return list(dict.fromkeys(value))

    @field_validator("url")
    @classmethod
    def _url_length(cls, value: HttpUrl | None) -> HttpUrl | None:
        if value is not None and len(str(value)) > 2000:
            raise ValueError("must be at most 2000 characters")
        return value


class SummaryInput(SummaryOptions, SourceInput):
    pass


class KeyPointsInput(KeyPointsOptions, SourceInput):
    pass


class SeoInput(SeoOptions, SourceInput):
    pass


class SocialPostsInput(SocialOptions, SourceInput):
    pass


class FullPackInput(SummaryOptions, KeyPointsOptions, SeoOptions, SocialOptions, SourceInput):
    pass


INPUT_MODELS: dict[JobKind, type[SourceInput]] = {
    JobKind.SUMMARY: SummaryInput,
    JobKind.KEY_POINTS: KeyPointsInput,
    JobKind.SEO: SeoInput,
    JobKind.SOCIAL_POSTS: SocialPostsInput,
    JobKind.FULL_PACK: FullPackInput,
}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SummaryJob(_Spec):
    kind: Literal[JobKind.SUMMARY]
    input: SummaryInput


class KeyPointsJob(_Spec):
    kind: Literal[JobKind.KEY_POINTS]
    input: KeyPointsInput


class SeoJob(_Spec):
    kind: Literal[JobKind.SEO]
    input: SeoInput


class SocialPostsJob(_Spec):
    kind: Literal[JobKind.SOCIAL_POSTS]
    input: SocialPostsInput


class FullPackJob(_Spec):
    kind: Literal[JobKind.FULL_PACK]
    input: FullPackInput


# A job submission `{"kind": ..., "input": {...}}`, validated in one step (OpenAPI shows a oneOf).
JobSpec = Annotated[
    SummaryJob | KeyPointsJob | SeoJob | SocialPostsJob | FullPackJob,
    Field(discriminator="kind"),
]
_JOB_SPEC: TypeAdapter[Any] = TypeAdapter(JobSpec)


def parse_input(kind: str, data: Any) -> SourceInput:
    """Validate `data` as the input of `kind`; raises pydantic's ValidationError."""
    spec = _JOB_SPEC.validate_python({"kind": kind, "input": data})
    result: SourceInput = spec.input
    return result
