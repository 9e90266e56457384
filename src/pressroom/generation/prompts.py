"""What the model is asked for each kind, and the JSON shape its answer must have."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict

from pressroom.generation.kinds import (
    META_DESCRIPTION_MAX_CHARS,
    NETWORK_LIMITS,
    TITLE_SUGGESTION_MAX_CHARS,
    JobKind,
    SourceInput,
)

SYSTEM = (
    "You are an editor who turns articles into publishing material. You answer with one "
    "JSON object and nothing else: no Markdown fences, no commentary. Write in the "
    "article's language. Never invent facts that are not in the article."
)


class ModelOutput(BaseModel):
    """The union of every kind's fields; `required_fields` says which a kind must return."""

    model_config = ConfigDict(extra="ignore")

    summary: str | None = None
    key_points: list[str] | None = None
    meta_description: str | None = None
    keywords: list[str] | None = None
    title_suggestions: list[str] | None = None
    social_posts: dict[str, str] | None = None


_SEO_FIELDS = ("meta_description", "keywords", "title_suggestions")
REQUIRED_FIELDS: dict[JobKind, tuple[str, ...]] = {
    JobKind.SUMMARY: ("summary",),
    JobKind.KEY_POINTS: ("key_points",),
    JobKind.SEO: _SEO_FIELDS,
    JobKind.SOCIAL_POSTS: ("social_posts",),
    JobKind.FULL_PACK: ("summary", "key_points", *_SEO_FIELDS, "social_posts"),
}


def _field_instructions(data: SourceInput, kind: JobKind) -> dict[str, str]:
    sentences = getattr(data, "sentences", 5)
    points = getattr(data, "points", 5)
    keywords = getattr(data, "keywords", 10)
    titles = getattr(data, "titles", 5)
    networks = getattr(data, "networks", [])
    hashtags = getattr(data, "hashtags", 3)
    url = getattr(data, "url", None)
    posts = {n.value: f"a post of at most {NETWORK_LIMITS[n]} characters" for n in networks}
    link = f" Include this link in every post: {url}." if url else ""
    all_fields = {
        "summary": f"string: a faithful summary in at most {sentences} sentences",
        "key_points": f"array of {points} strings: the article's key points, one sentence each",
        "meta_description": (
            f"string: an SEO meta description of at most {META_DESCRIPTION_MAX_CHARS} "
            "characters, ending on a whole word"
        ),
        "keywords": f"array of {keywords} strings: SEO keywords and keyphrases, lower case",
        "title_suggestions": (
            f"array of {titles} strings: headline suggestions of at most "
            f"{TITLE_SUGGESTION_MAX_CHARS} characters"
        ),
        "social_posts": (
            f"object with exactly these keys: {json.dumps(posts)}; each post ends with at "
            f"most {hashtags} relevant hashtags.{link}"
        ),
    }
    return {name: all_fields[name] for name in REQUIRED_FIELDS[kind]}


def user_prompt(data: SourceInput, kind: JobKind, article: str, truncated: bool) -> str:
    fields = "\n".join(f'- "{k}": {v}' for k, v in _field_instructions(data, kind).items())
    title = f"Title: {data.title}\n" if data.title else ""
    note = " (truncated)" if truncated else ""
    return (
        f"Return a JSON object with these fields:\n{fields}\n\n"
        f"Article language: {data.language}\n{title}"
        f"Article{note}:\n<<<\n{article}\n>>>"
    )
