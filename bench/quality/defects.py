"""Objective defects in generated artifacts: the classes an editor's reading found.

Each check looks only at an artifact and the source document's raw text, never at the
engine's own parse, so an engine cannot pass by agreeing with itself. Used by the quality
evaluation (bench/quality/__main__.py) and by tests/generation/test_quality.py.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence

import syllapy

_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")
SPACE_BEFORE_PUNCT = re.compile(r"\w\s+[,.;:!?](?:\s|$)")
FIGURE_REF = re.compile(r"\b(?:fig(?:ure)?s?\.?|tables?|listings?)\s+\d", re.IGNORECASE)
MAN_FOOTER = re.compile(r"\b[A-Z][A-Z0-9_-]+\(\d\w*\)|\b\d{1,2}/\d{1,2}/\d{4}\b")
BOILERPLATE = re.compile(r"copyright|\u00a9|all rights reserved", re.IGNORECASE)
CODE = re.compile(r"[{};]\s*$|^\s*[$%#>]\s|\b\w+\s*=\s*\w+\b.*;|#include|->|==")
MARKUP = re.compile(r"</?[a-zA-Z][^>]*>|&lt;|&gt;|&amp;|\]\(|\*\*|^#{1,6}\s", re.MULTILINE)
TEMPLATE_TITLE = re.compile(
    r"^Why .+ Matters$|: What You Need to Know$|Things to Know About|^A Practical Guide to|"
    r": Lessons So Far$|^The Case for|in \d+ Key Points$|^Everything You Need to Know",
)
DANGLING = re.compile(r"\b(?:a|an|and|as|at|by|for|in|of|on|or|the|to|with)$", re.IGNORECASE)


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def _norm(text: str) -> str:
    return " ".join(w.lower() for w in words(text))


def sentences(text: str) -> list[str]:
    from segtok.segmenter import split_multi

    return [s.strip() for s in split_multi(text) if s.strip()]


def source_headings(source: str, fmt: str) -> list[str]:
    """Headings and navigation lines as a reader sees them in the raw source."""
    if fmt == "markdown":
        found = re.findall(r"^#{1,6}\s+(.+?)\s*#*$", source, re.MULTILINE)
        found += re.findall(r"^(.+)\n[=-]{3,}\s*$", source, re.MULTILINE)
        found += re.findall(r"<h\d[^>]*>(.*?)</h\d>", source, re.IGNORECASE | re.DOTALL)
    elif fmt == "html":
        found = re.findall(r"<h\d[^>]*>(.*?)</h\d>", source, re.IGNORECASE | re.DOTALL)
        found += re.findall(r"<(?:nav|dt)[^>]*>(.*?)</(?:nav|dt)>", source, re.I | re.S)
        found = [re.sub(r"<[^>]+>", "", h) for h in found]
    else:
        lines = source.splitlines()
        found = [
            line.strip()
            for line in lines
            if line.strip()
            and (
                (line.strip().isupper() and len(words(line)) <= 6)
                or (line.strip().endswith("?") and len(words(line)) <= 14)
            )
        ]
    return [" ".join(h.split()) for h in found if len(words(h)) >= 1]


def _glued_heading(sentence: str, headings: Sequence[str]) -> bool:
    # A heading (of two words or more, or an upper-case one) inside a longer "sentence".
    norm = f" {_norm(sentence)} "
    for heading in headings:
        h = _norm(heading)
        if not h or h == norm.strip():
            continue
        if len(h.split()) >= 2 or heading.isupper():
            # Case matters for upper-case man page headings; lower-cased prose may repeat a
            # two-word heading's words legitimately, so only count glued uppercase or a
            # heading followed directly by a capitalised sentence start.
            if heading.isupper() and len(heading) > 3 and heading in sentence:
                return True
            if re.search(rf"(?:^|[^.!?:]\s){re.escape(heading)}\s+[A-Z]", sentence):
                return True
    return False


def sentence_defects(text: str, headings: Sequence[str]) -> list[str]:
    """Defects of text that should be made of real body sentences."""
    found = []
    for sentence in sentences(text):
        if _glued_heading(sentence, headings):
            found.append("heading or navigation glued into a sentence")
        if FIGURE_REF.search(sentence):
            found.append("figure or table reference")
        if MAN_FOOTER.search(sentence) and not re.search(r"\w\(\d\)", sentence.lower()):
            found.append("page header or footer")
        if BOILERPLATE.search(sentence):
            found.append("licence or page boilerplate")
        if CODE.search(sentence):
            found.append("code")
        if MARKUP.search(sentence):
            found.append("markup")
    if SPACE_BEFORE_PUNCT.search(text):
        found.append("space before punctuation")
    return found


def duplicate_sentences(texts: Iterable[str]) -> int:
    counts = Counter(_norm(s) for t in texts for s in sentences(t) if len(words(s)) >= 3)
    return sum(n - 1 for n in counts.values() if n > 1)


def keyword_defects(keywords: Sequence[str], source: str) -> list[str]:
    found = []
    prose = re.sub(r"<[^>]+>|https?://\S+|\]\([^)]*\)", " ", source)
    prose_words = {w.lower() for w in words(prose)}
    lowered = [k.lower() for k in keywords]
    if len(set(lowered)) < len(lowered):
        found.append("same keyword in two cases")
    singular = {re.sub(r"(?:es|s)$", "", k) for k in lowered}
    if len(singular) < len(lowered):
        found.append("singular and plural both kept")
    spelled = Counter(words(prose))
    for k in keywords:
        ws = words(k)
        if any(w.lower() not in prose_words for w in ws):
            found.append(f"markup or URL word: {k}")
        # "valgrind Frequently": a capital the source gives the word only at a sentence start.
        if any(
            a.islower() and b[:1].isupper() and not b.isupper() and spelled[b] < spelled[b.lower()]
            for a, b in itertools.pairwise(ws)
        ):
            found.append(f"sentence-start capital inside a phrase: {k}")
    return found


def title_defects(titles: Sequence[str], doc_title: str | None) -> list[str]:
    found = []
    for t in titles:
        if TEMPLATE_TITLE.search(t):
            found.append(f"stock template: {t}")
        if DANGLING.search(t):
            found.append(f"ends on a function word: {t}")
        if len(t) > 70:
            found.append(f"over 70 characters: {t}")
        if MARKUP.search(t):
            found.append(f"markup: {t}")
    if doc_title and titles and not any(_norm(doc_title) in _norm(t) for t in titles[:1]):
        found.append("the article's own title is not offered first")
    if len({_norm(t) for t in titles}) < len(titles):
        found.append("duplicate titles")
    return found


def html_defects(markup: str, source: str, fmt: str) -> list[str]:
    found = []
    # Escaped tags are right inside code, and in plain text, where "<file>" is text.
    outside_code = re.sub(r"<(pre|code)\b.*?</\1>", "", markup, flags=re.DOTALL)
    if fmt != "text" and re.search(r"&lt;/?[a-zA-Z]+(?:\s[^&]*)?&gt;", outside_code):
        found.append("source HTML shown escaped")
    if re.search(r"<script|\son\w+=|javascript:", markup, re.IGNORECASE):
        found.append("unsafe markup")
    if fmt == "text" and re.search(r"<p>\s*(?:[-*\u2022]|\d+[.)])\s", markup):
        found.append("plain-text list item rendered as a paragraph")
    return found


def stats_defects(stats: dict[str, object], prose_words: Sequence[str]) -> list[str]:
    found = []
    if not prose_words:
        return found
    expected = sum(max(1, syllapy.count(w)) for w in prose_words) / len(prose_words)
    got = stats.get("syllables_per_word")
    if not isinstance(got, (int, float)) or abs(got - expected) > 0.05:
        found.append(f"syllables per word {got} against the dictionary's {expected:.2f}")
    return found


def artifact_defects(
    artifacts: dict[str, list[str]], source: str, fmt: str, doc_title: str | None = None
) -> dict[str, list[str]]:
    """Defects by artifact type; `artifacts` maps a type to its contents (posts: several)."""
    headings = source_headings(source, fmt)
    out: dict[str, list[str]] = {}
    summary = artifacts.get("summary", [""])[0]
    for kind, contents in artifacts.items():
        found: list[str] = []
        if kind in ("summary", "meta_description"):
            for c in contents:
                found += sentence_defects(c, headings)
                if duplicate_sentences([c]):
                    found.append("repeated sentence")
        elif kind == "key_points":
            points = [line[2:] for c in contents for line in c.splitlines() if line.strip()]
            for point in points:
                found += sentence_defects(point, headings)
            if duplicate_sentences(points):
                found.append("repeated key point")
            summary_sentences = {_norm(s) for s in sentences(summary)}
            found += ["key point repeats the summary"] * sum(
                _norm(p) in summary_sentences for p in points
            )
        elif kind == "social_post":
            for post in contents:
                body = "\n".join(
                    line for line in post.splitlines()
                    if not line.startswith(("http", "#", "Key points:"))
                )  # fmt: skip
                body = body.replace("\u2022 ", "")
                found += sentence_defects(body, headings)
                if duplicate_sentences(body.splitlines()):
                    found.append("sentence repeated within a post")
                if "\u2026" in post or "..." in post:
                    found.append("post clipped")
        elif kind == "keywords":
            found += keyword_defects(json.loads(contents[0]), source)
        elif kind == "title_suggestions":
            found += title_defects(json.loads(contents[0]), doc_title)
        elif kind == "rendered_html":
            found += html_defects(contents[0], source, fmt)
        out[kind] = found
    return out
