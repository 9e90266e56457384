"""The default engine: offline, deterministic (same input, same artifacts), no model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pressroom.generation import extractive, readability, render, social
from pressroom.generation.base import ArtifactDraft, GenerationRequest, GenerationResult
from pressroom.generation.document import Document, parse
from pressroom.generation.keywords import Keyword, extract
from pressroom.generation.kinds import (
    ARTIFACT_TYPES_BY_KIND,
    META_DESCRIPTION_MAX_CHARS,
    NETWORK_LIMITS,
    ArtifactType,
    Network,
    SourceInput,
)
from pressroom.generation.quality import check_usable

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
MARKDOWN = "text/markdown; charset=utf-8"
HTML = "text/html; charset=utf-8"

NETWORK_UNITS = {
    Network.TWITTER: "twitter-text weighted characters",
    Network.MASTODON: "characters (URLs count 23)",
    Network.BLUESKY: "graphemes",
    Network.THREADS: "UTF-16 code units",
    Network.LINKEDIN: "UTF-16 code units",
}


def _opt(data: SourceInput, name: str, default: Any) -> Any:
    return getattr(data, name, default)


def json_artifact(kind: ArtifactType, value: Any, **metadata: Any) -> ArtifactDraft:
    content = json.dumps(value, ensure_ascii=False, indent=2)
    return ArtifactDraft(kind, JSON, content, metadata)


def social_post_artifact(
    network: Network, text: str, tags: Sequence[str], source: str
) -> ArtifactDraft:
    metadata = {
        "network": network.value,
        "length": social.post_length(network, text),
        "limit": NETWORK_LIMITS[network],
        "unit": NETWORK_UNITS[network],
        "hashtags": [t for t in tags if t in text.split()],
        "source": source,
    }
    return ArtifactDraft(ArtifactType.SOCIAL_POST, TEXT, text, metadata)


def key_points_artifact(points: Sequence[str], source: str) -> ArtifactDraft:
    content = "\n".join(f"- {p}" for p in points)
    return ArtifactDraft(
        ArtifactType.KEY_POINTS, MARKDOWN, content, {"count": len(points), "source": source}
    )


def meta_description_artifact(text: str, source: str) -> ArtifactDraft:
    metadata = {"length": len(text), "limit": META_DESCRIPTION_MAX_CHARS, "source": source}
    return ArtifactDraft(ArtifactType.META_DESCRIPTION, TEXT, text, metadata)


class _Run:
    """One generation: the parsed document and what has been worked out so far."""

    def __init__(self, data: SourceInput) -> None:
        self.data = data
        self.language = data.language_code
        self.doc: Document = parse(data.text, data.format, data.title)
        check_usable(self.doc, self.language)
        self.keywords: list[Keyword] = extract(
            self.doc, max(10, _opt(data, "keywords", 10)), self.language
        )
        self.scored = extractive.score_sentences(self.doc, self.keywords, self.language)
        self.summary = extractive.summary(self.scored, _opt(data, "sentences", 5))
        self.points = extractive.key_points(
            self.doc, self.scored, _opt(data, "points", 5), self.summary
        )

    def ranked_sentences(self) -> list[str]:
        ranked = sorted(self.scored, key=lambda s: (-s.score, s.sentence.index))
        title = (self.doc.title or "").lower()
        # score_sentences already dropped repeats; a sentence that is the headline is one too.
        return [s.sentence.text for s in ranked if s.sentence.text.lower() != title]

    def social_posts(self) -> list[ArtifactDraft]:
        url_value = _opt(self.data, "url", None)
        url = str(url_value) if url_value else None
        tags = social.hashtags([k.text for k in self.keywords], _opt(self.data, "hashtags", 3))
        title = self.doc.title
        ranked = self.ranked_sentences()[:4]
        posts = []
        for network in _opt(self.data, "networks", list(Network)):
            if network == Network.LINKEDIN:
                bullets = "Key points:\n" + "\n".join(f"• {p}" for p in self.points)
                chunks = [c for c in (title, " ".join(self.summary), bullets) if c]
                text = social.compose(network, chunks, url=url, tags=tags, joiner="\n\n")
            else:
                text = social.compose(network, ranked, url=url, tags=tags)
                if title:
                    # Lead with the headline when it fits without cutting the first sentence.
                    titled = [f"{title}\n\n{ranked[0]}", *ranked[1:]]
                    with_title = social.compose(network, titled, url=url, tags=tags)
                    if with_title.startswith(titled[0]):
                        text = with_title
            posts.append(social_post_artifact(network, text, tags, "builtin"))
        return posts

    def artifact(self, kind: ArtifactType) -> list[ArtifactDraft]:
        data = self.data
        match kind:
            case ArtifactType.SUMMARY:
                text = " ".join(self.summary)
                meta = {"sentences": len(self.summary), "method": "extractive"}
                return [ArtifactDraft(kind, TEXT, text, meta)]
            case ArtifactType.KEY_POINTS:
                return [key_points_artifact(self.points, "extractive")]
            case ArtifactType.KEYWORDS:
                chosen = self.keywords[: _opt(data, "keywords", 10)]
                return [
                    json_artifact(
                        kind,
                        [k.text for k in chosen],
                        scores={k.text: k.score for k in chosen},
                        method="yake",
                    )
                ]
            case ArtifactType.TITLE_SUGGESTIONS:
                titles = extractive.titles(
                    self.doc,
                    self.keywords,
                    len(self.points),
                    _opt(data, "titles", 5),
                    self.language,
                )
                return [json_artifact(kind, titles, count=len(titles))]
            case ArtifactType.META_DESCRIPTION:
                return [
                    meta_description_artifact(
                        extractive.meta_description(self.scored), "extractive"
                    )
                ]
            case ArtifactType.SOCIAL_POST:
                return self.social_posts()
            case ArtifactType.RENDERED_HTML:
                markup = render.render(data.text, data.format, self.doc)
                return [ArtifactDraft(kind, HTML, markup, {"sanitizer": "nh3"})]
            case ArtifactType.STATS:
                return [json_artifact(kind, readability.stats(self.doc, self.language))]


class BuiltinEngine:
    name = "builtin"

    def generate(self, request: GenerationRequest) -> GenerationResult:
        run = _Run(request.input)
        artifacts = [a for t in ARTIFACT_TYPES_BY_KIND[request.kind] for a in run.artifact(t)]
        return GenerationResult(engine=self.name, artifacts=artifacts)
