"""The defect classes an editor found are absent from the builtin engine's output on real
documents (tests/generation/fixtures/real/, copied from packaged documentation with their
licences in manifest.json). The checks are bench/quality/defects.py, the same the quality
evaluation counts over its larger corpus."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from bench.quality.defects import SPACE_BEFORE_PUNCT, artifact_defects, stats_defects

from pressroom.generation.base import GenerationRequest, GenerationResult
from pressroom.generation.builtin import BuiltinEngine
from pressroom.generation.document import parse
from pressroom.generation.kinds import ArtifactType, SourceFormat

REAL = Path(__file__).parent / "fixtures" / "real"
MANIFEST: list[dict[str, Any]] = json.loads((REAL / "manifest.json").read_text())


def generate(entry: dict[str, Any]) -> tuple[str, GenerationResult]:
    return _generate(entry["file"], entry["format"])


@functools.cache
def _generate(name: str, fmt: str) -> tuple[str, GenerationResult]:
    # The engine is deterministic: one run per document serves every test.
    source = (REAL / name).read_text(encoding="utf-8")
    data = {"text": source, "format": fmt, "url": "https://example.org/a"}
    return source, BuiltinEngine().generate(GenerationRequest.from_job("full_pack", data))


def contents(result: GenerationResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for a in result.artifacts:
        out.setdefault(a.type.value, []).append(a.content)
    return out


@pytest.mark.parametrize("entry", MANIFEST, ids=[m["file"] for m in MANIFEST])
def test_no_defects(entry: dict[str, Any]) -> None:
    source, result = generate(entry)
    doc = parse(source, SourceFormat(entry["format"]))
    found = artifact_defects(contents(result), source, entry["format"], doc.title)
    stats = json.loads(result.of_type(ArtifactType.STATS)[0].content)
    found["stats"] = stats_defects(stats, doc.words)
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize("entry", MANIFEST, ids=[m["file"] for m in MANIFEST])
def test_titles_start_from_the_articles_own_title(entry: dict[str, Any]) -> None:
    source, result = generate(entry)
    doc = parse(source, SourceFormat(entry["format"]))
    titles = json.loads(result.of_type(ArtifactType.TITLE_SUGGESTIONS)[0].content)
    if doc.title:
        assert titles[0] == doc.title.rstrip(":.")


def test_man_page_header_footer_and_name_line() -> None:
    _source, result = generate(next(m for m in MANIFEST if m["file"] == "ssh.txt"))
    everything = " ".join(a.content for a in result.artifacts)
    assert "BSD General Commands Manual" not in everything
    assert "SSH(1)" not in everything
    titles = json.loads(result.of_type(ArtifactType.TITLE_SUGGESTIONS)[0].content)
    assert titles[0] == "ssh: OpenSSH remote login client"


def test_html_inline_elements_keep_their_spacing() -> None:
    # zlib's guide writes "<tt>deflate()</tt>, <tt>inflate()</tt>": no space before the comma.
    _, result = generate(next(m for m in MANIFEST if m["file"] == "zlib_how.html"))
    for artifact in result.artifacts:
        if artifact.type != ArtifactType.RENDERED_HTML:
            assert not SPACE_BEFORE_PUNCT.search(artifact.content), artifact.content


def test_inline_html_in_markdown_is_rendered_not_escaped() -> None:
    _, result = generate(next(m for m in MANIFEST if m["file"] == "urllib3-readme.md"))
    html = result.of_type(ArtifactType.RENDERED_HTML)[0].content
    assert "&lt;p" not in html
    assert "&lt;img" not in html
    assert "<img" in html  # the README's logo, through the sanitiser
    keywords = json.loads(result.of_type(ArtifactType.KEYWORDS)[0].content)
    assert not {"align", "center", "img", "src", "href", "width"} & {k.lower() for k in keywords}


def test_key_points_never_repeat_the_summary() -> None:
    for entry in MANIFEST:
        _, result = generate(entry)
        summary = result.of_type(ArtifactType.SUMMARY)[0].content
        points = result.of_type(ArtifactType.KEY_POINTS)[0].content.splitlines()
        assert points
        assert not [p for p in points if p[2:] in summary], entry["file"]
