from __future__ import annotations

import json
import math
import re

import pytest

from pressroom.generation.base import GenerationRequest, GenerationResult
from pressroom.generation.builtin import BuiltinEngine
from pressroom.generation.document import clean
from pressroom.generation.errors import InputError
from pressroom.generation.kinds import (
    META_DESCRIPTION_MAX_CHARS,
    NETWORK_LIMITS,
    TITLE_SUGGESTION_MAX_CHARS,
    ArtifactType,
    JobKind,
    Network,
)
from pressroom.generation.social import post_length
from tests.generation.conftest import ARTICLES, article

URL = "https://example.org/articles/2024/a-rather-long-path-for-the-article"


def run(kind: str, text: str, fmt: str = "text", **options: object) -> GenerationResult:
    request = GenerationRequest.from_job(kind, {"text": text, "format": fmt, **options})
    return BuiltinEngine().generate(request)


def one(result: GenerationResult, artifact_type: ArtifactType) -> str:
    (artifact,) = result.of_type(artifact_type)
    return artifact.content


@pytest.fixture(scope="module", params=ARTICLES, ids=[a[0] for a in ARTICLES])
def pack(request: pytest.FixtureRequest) -> tuple[str, str, str, GenerationResult]:
    name, fmt, topic = request.param
    text = article(name)
    return text, fmt, topic, run("full_pack", text, fmt, url=URL)


class TestFullPack:
    def test_every_artifact_type_is_produced(self, pack: tuple[str, str, str, GenerationResult]):
        result = pack[3]
        assert {a.type for a in result.artifacts} == set(ArtifactType)
        assert len(result.of_type(ArtifactType.SOCIAL_POST)) == len(Network)
        assert result.usage is None
        assert all(a.content.strip() and a.size_bytes > 0 for a in result.artifacts)

    def test_deterministic(self, pack: tuple[str, str, str, GenerationResult]) -> None:
        text, fmt, _, first = pack
        assert run("full_pack", text, fmt, url=URL) == first

    def test_summary_sentences_come_from_the_source(self, pack):
        text, _fmt, _, result = pack
        source = clean(re.sub(r"<[^>]+>|[*_`#]", " ", text))
        summary = one(result, ArtifactType.SUMMARY)
        sentences = re.split(r"(?<=[.!?\"])\s+(?=[A-Z])", summary)
        assert 2 <= len(sentences) <= 5
        for sentence in sentences:
            assert clean(sentence) in source

    def test_summary_is_shorter_than_the_article(self, pack) -> None:
        text, _, _, result = pack
        assert len(one(result, ArtifactType.SUMMARY)) < len(text) / 3

    def test_key_points_are_a_list(self, pack) -> None:
        points = one(pack[3], ArtifactType.KEY_POINTS).splitlines()
        assert len(points) == 5
        assert all(p.startswith("- ") and len(p) > 20 for p in points)

    def test_keywords_are_about_the_article(self, pack) -> None:
        _, _, topic, result = pack
        keywords = json.loads(one(result, ArtifactType.KEYWORDS))
        assert len(keywords) == 10
        assert topic in [k.lower() for k in keywords[:3]]

    def test_title_suggestions(self, pack) -> None:
        _, _, _topic, result = pack
        titles = json.loads(one(result, ArtifactType.TITLE_SUGGESTIONS))
        assert len(titles) == 5
        assert len(set(titles)) == 5
        assert all(len(t) <= TITLE_SUGGESTION_MAX_CHARS for t in titles)

    def test_meta_description_fits_and_ends_cleanly(self, pack) -> None:
        meta = one(pack[3], ArtifactType.META_DESCRIPTION)
        assert 50 <= len(meta) <= META_DESCRIPTION_MAX_CHARS
        assert re.search(r"[\w.!?\"”…]$", meta)

    def test_social_posts_within_limits_with_link_and_hashtags(self, pack) -> None:
        for post in pack[3].of_type(ArtifactType.SOCIAL_POST):
            network = Network(post.metadata["network"])
            assert post_length(network, post.content) <= NETWORK_LIMITS[network]
            assert post.metadata["length"] == post_length(network, post.content)
            assert URL in post.content
            assert re.search(r"(^|\s)#\w{3,}", post.content)

    def test_rendered_html_has_no_script(self, pack) -> None:
        markup = one(pack[3], ArtifactType.RENDERED_HTML)
        assert "<p>" in markup
        assert not re.search(r"<script|<style|javascript:|onerror|onclick", markup, re.I)

    def test_stats(self, pack) -> None:
        stats = json.loads(one(pack[3], ArtifactType.STATS))
        assert 300 <= stats["words"] <= 500
        assert stats["reading_time_seconds"] == math.ceil(stats["words"] / 238 * 60)
        assert stats["reading_time_minutes"] in (1, 2)
        assert 30 < stats["flesch_reading_ease"] < 90
        assert 4 < stats["flesch_kincaid_grade"] < 16


class TestHtmlBoilerplate:
    def test_navigation_scripts_and_footer_are_not_content(self) -> None:
        result = run("full_pack", article("sourdough.html"), "html")
        everything = " ".join(a.content for a in result.artifacts)
        for junk in ("analytics", "loadAds", "Copyright", "Popular posts", "Recipes"):
            assert junk not in everything


class TestSanitising:
    def test_markdown_raw_html_and_js_links_are_neutralised(self) -> None:
        text = (
            "# Hello\n\nA paragraph about gardens with enough words to be prose here.\n\n"
            '<script>alert("x")</script>\n\n<img src=x onerror="alert(1)">\n\n'
            "[click me](javascript:alert(1)) and [ok](https://example.org).\n"
        )
        html = one(run("full_pack", text, "markdown"), ArtifactType.RENDERED_HTML)
        assert "<script" not in html
        assert "alert(" not in html.replace("javascript:alert(1)", "")  # only as link text
        assert "onerror" not in html
        assert '<img src="x">' in html  # inline HTML is rendered, through the sanitiser
        assert 'href="javascript' not in html
        assert 'href="https://example.org"' in html
        assert 'rel="noopener noreferrer nofollow"' in html

    def test_html_input_is_sanitised(self) -> None:
        text = (
            "<article><h1>Gardens</h1><p onclick='steal()'>Small gardens feed many families "
            "in the city and the neighbourhood.</p><script>steal()</script>"
            "<a href='javascript:steal()'>x</a><iframe src='https://evil'></iframe></article>"
        )
        html = one(run("full_pack", text, "html"), ArtifactType.RENDERED_HTML)
        assert "steal" not in html
        assert "<iframe" not in html
        assert "Small gardens feed many families" in html

    def test_plain_text_is_escaped(self) -> None:
        text = "Notes on <b>markup</b> & <script>alert(1)</script> in a plain text article."
        html = one(run("full_pack", text, "text"), ArtifactType.RENDERED_HTML)
        assert "<script" not in html
        assert "&lt;script&gt;" in html


class TestUnusableInput:
    @pytest.mark.parametrize(
        ("text", "fmt"),
        [
            ("!!!! #### $$$$ %%%% ^^^^ &&&& **** (((( ))))", "text"),
            ("1234 5678 9012 3456 7890 1234 5678 9012 3456", "text"),
            (
                "asdkjh qwlekj zxcmnb poiuqw lkjasd mnbzxc qwerty uiopas dfghjk lzxcvb nmqwer",
                "text",
            ),
            (
                "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx " * 5,
                "text",
            ),
            (
                "<html><script>var a = 'lots of code here and more';</script><p>Hi</p></html>",
                "html",
            ),
            ("```\ncode only, no prose at all in this markdown\n```", "markdown"),
        ],
        ids=["symbols", "digits", "keyboard-mash", "base64", "script-only-html", "code-only"],
    )
    def test_garbage_is_an_input_error(self, text: str, fmt: str) -> None:
        with pytest.raises(InputError):
            run("summary", text, fmt)

    def test_short_text_is_an_input_error(self) -> None:
        with pytest.raises(InputError, match="too little prose"):
            run("summary", "Hello there, how are you today?")

    def test_empty_is_rejected_before_the_engine(self) -> None:
        with pytest.raises(InputError):
            run("summary", "                      ")


class TestKinds:
    def test_each_kind_produces_only_its_artifacts(self) -> None:
        text = article("four_day_week.txt")
        assert [a.type for a in run("summary", text).artifacts] == [ArtifactType.SUMMARY]
        assert [a.type for a in run("seo", text).artifacts] == [
            ArtifactType.META_DESCRIPTION,
            ArtifactType.KEYWORDS,
            ArtifactType.TITLE_SUGGESTIONS,
        ]
        posts = run("social_posts", text, networks=["x", "bluesky"]).artifacts
        assert [p.metadata["network"] for p in posts] == ["twitter", "bluesky"]

    def test_options_are_honoured(self) -> None:
        text = article("heat_pumps.md")
        result = run("full_pack", text, "markdown", sentences=2, points=3, keywords=4, titles=2)
        summary = one(result, ArtifactType.SUMMARY)
        assert len(re.findall(r"[.!?]\"?(?:\s|$)", summary)) == 2
        assert len(one(result, ArtifactType.KEY_POINTS).splitlines()) == 3
        assert len(json.loads(one(result, ArtifactType.KEYWORDS))) == 4
        assert len(json.loads(one(result, ArtifactType.TITLE_SUGGESTIONS))) == 2

    def test_no_hashtags_when_asked_for_none(self) -> None:
        posts = run("social_posts", article("heat_pumps.md"), "markdown", hashtags=0).artifacts
        assert all("#" not in p.content for p in posts)


class TestLongInput:
    def test_maximum_size_article(self) -> None:
        # Many distinct paragraphs up to the 200,000-character limit: must work, in limits.
        base = article("four_day_week.txt").split("\n\n")[1:]
        paragraphs = [f"{p} (Report {i}.)" for i in range(200) for p in base]
        text = "\n\n".join(paragraphs)[:199_000]
        result = run("full_pack", text)
        assert len(one(result, ArtifactType.META_DESCRIPTION)) <= META_DESCRIPTION_MAX_CHARS
        for post in result.of_type(ArtifactType.SOCIAL_POST):
            network = Network(post.metadata["network"])
            assert post_length(network, post.content) <= NETWORK_LIMITS[network]


def test_job_kind_strings() -> None:
    assert {k.value for k in JobKind} >= {"summary", "key_points", "seo", "social_posts"}


class TestInlineHtmlInMarkdown:
    def test_details_render_and_their_tags_are_not_keywords(self) -> None:
        text = (
            "# Valgrind notes\n\n"
            "Valgrind finds memory errors in C programs before users do.\n\n"
            "<details>\n<summary>Why run Valgrind in CI?</summary>\n\n"
            "Valgrind catches leaks that tests miss, and Valgrind reports them with stacks.\n\n"
            "</details>\n\n"
            "Run Valgrind on every release build, since Valgrind is slow but thorough.\n"
        )
        result = run("full_pack", text, "markdown")
        html = one(result, ArtifactType.RENDERED_HTML)
        assert "<details>" in html
        assert "<summary>" in html
        assert "&lt;details" not in html
        keywords = json.loads(one(result, ArtifactType.KEYWORDS))
        assert not {"details", "summary"} & {k.lower() for k in keywords}
        assert "Valgrind" in keywords  # the name as the prose writes it
