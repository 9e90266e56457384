"""Extractive writing: summary, key points, meta description and titles from the source.

Sentences are scored by the document's own vocabulary (content-word frequency, boosted for
keywords and title words), with a bonus for the lead and for opening a paragraph, and a
penalty for sentences that lean on the one before ("This", "However"). Selection skips
near-duplicates and restores the original order, so a summary reads like the article.
Every sentence in the output is a sentence of the source, verbatim.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pressroom.generation.document import Document, Sentence, words
from pressroom.generation.keywords import Keyword, stem, stopwords
from pressroom.generation.kinds import META_DESCRIPTION_MAX_CHARS, TITLE_SUGGESTION_MAX_CHARS
from pressroom.generation.social import ELLIPSIS, truncate_words

# Openers that make a sentence depend on its predecessor: poor out of context.
_DEPENDENT_EN = frozenset(
    [
        "this",
        "these",
        "that",
        "those",
        "it",
        "its",
        "they",
        "them",
        "their",
        "he",
        "she",
        "his",
        "her",
        "but",
        "and",
        "so",
        "also",
        "however",
        "yet",
        "still",
        "then",
        "such",
        "both",
        "another",
        "other",
        "instead",
        "meanwhile",
    ]
)
_MIN_WORDS, _MAX_WORDS = 6, 55
_SIMILAR = 0.5

# What a real sentence of the body is not: a caption or figure reference, licence or page
# boilerplate, code, markup, a command-line option's description.
_REFERENCE = re.compile(
    r"\b(?:fig(?:ure)?s?\.?|tables?|listings?|examples?|screenshots?)\s+\d", re.IGNORECASE
)
_BOILERPLATE = re.compile(
    r"copyright|\u00a9|all rights reserved|general public license|without any warranty|"
    r"permission is hereby granted|licensed under|https?://|www\.",
    re.IGNORECASE,
)
_CODEISH = re.compile(r"[{}<>=;$#*\\|`\[\]_/]")
_MARKUP = re.compile(r"&[a-z]+;|\]\(|\*\*|__|^#|</?[a-z]")
_POINTS_BACK = re.compile(r"\b(?:this|that|these|those|it|them|above|below)[.!?]$", re.I)
_END = re.compile(r"[.!?][\"'\u201d\u2019)]*$")


def is_sentence(text: str, title_words: frozenset[str] = frozenset()) -> bool:
    """A complete sentence of prose: what a summary, a key point or a post may quote."""
    tokens = words(text)
    if not _MIN_WORDS <= len(tokens) <= _MAX_WORDS or not _END.search(text):
        return False
    first = text.lstrip("\"'\u201c\u2018(")[:1]
    if not (first.isupper() or first.isdigit() or tokens[0] in title_words):
        return False  # a fragment ("to which Git will reply") or an option ("-4 Forces ...")
    if _REFERENCE.search(text) or _BOILERPLATE.search(text) or _MARKUP.search(text):
        return False
    return len(_CODEISH.findall(text)) <= max(2, len(text) // 40)


@dataclass(frozen=True)
class Scored:
    sentence: Sentence
    score: float
    terms: frozenset[str]


def _terms(text: str, stop: frozenset[str]) -> list[str]:
    return [stem(w) for w in words(text) if w.lower() not in stop and not w.isdigit()]


def _position_weight(
    doc: Document, sentence: Sentence, position: int, opens_section: bool
) -> float:
    """The lead bias, by genre: an article's lead, a FAQ's answers, a reference's synopsis."""
    genre = doc.genre
    if genre == "faq":
        return 1.3 if opens_section else 1.0
    if genre == "reference":
        # A manual's first section says what the thing is; the rest is options and details.
        if doc.blocks[sentence.block].section <= doc.first_prose_section:
            return 2.0 if sentence.first_in_block else 1.3
        return 1.1 if sentence.first_in_block else 1.0
    # The lead counts from the first real sentence (a README's badges and tagline are not it).
    if position == 0:
        return 1.5
    lead = 1.15 if position < 3 else 1.0
    paragraph = doc.blocks[sentence.block].kind == "paragraph"
    return lead * (1.1 if sentence.first_in_block and paragraph else 1.0)


def score_sentences(doc: Document, keywords: Sequence[Keyword], language: str) -> list[Scored]:
    stop = stopwords(language)
    title_words = frozenset(words(doc.title or ""))
    sentences = [s for s in doc.sentences if is_sentence(s.text, title_words)]
    if not sentences:  # a short or unusual text: any sentence of three words will do
        sentences = [s for s in doc.sentences if len(words(s.text)) >= 3]
    bags = [_terms(s.text, stop) for s in sentences]
    freq = Counter(t for bag in bags for t in bag)
    if not freq:
        return []
    top = max(freq.values())
    keyword_terms = {stem(w) for k in keywords[:8] for w in words(k.text)}
    title_terms = set(_terms(doc.title or "", stop))
    seen_sections: set[int] = set()
    seen_texts: set[str] = set()
    scored: list[Scored] = []
    for position, (sentence, bag) in enumerate(zip(sentences, bags, strict=True)):
        section = doc.blocks[sentence.block].section
        opens_section = section not in seen_sections
        seen_sections.add(section)
        key = " ".join(words(sentence.text.lower()))
        if not bag or key in seen_texts:
            continue  # a sentence the document repeats is one candidate
        seen_texts.add(key)
        n_words = len(words(sentence.text))
        weight = sum(
            freq[t] / top * (1.5 if t in keyword_terms else 1.0) * (1.2 if t in title_terms else 1)
            for t in set(bag)
        )
        score = weight / len(bag) ** 0.5
        score *= _position_weight(doc, sentence, position, opens_section)
        first = words(sentence.text)[0].lower()
        if language == "en" and first in _DEPENDENT_EN and position > 0:
            score *= 0.75  # the opening sentence has nothing before it to lean on
        if sentence.text.endswith("?"):
            score *= 0.7
        if _POINTS_BACK.search(sentence.text):
            score *= 0.6  # "Git doesn't provide a way to do this.": this is elsewhere
        if not _MIN_WORDS <= n_words <= _MAX_WORDS:
            score *= 0.4
        scored.append(Scored(sentence, score, frozenset(bag)))
    return scored


def _similar(a: Scored, b: Scored) -> bool:
    union = a.terms | b.terms
    return bool(union) and len(a.terms & b.terms) / len(union) > _SIMILAR


def _pick(candidates: Sequence[Scored], count: int, taken: Sequence[Scored] = ()) -> list[Scored]:
    chosen = list(taken)
    for cand in sorted(candidates, key=lambda s: (-s.score, s.sentence.index)):
        if len(chosen) - len(taken) >= count:
            break
        if not any(_similar(cand, c) for c in chosen):
            chosen.append(cand)
    return chosen[len(taken) :]


def summary(scored: Sequence[Scored], count: int) -> list[str]:
    # At most about a third of the article: a summary as long as the text is no summary.
    count = max(1, min(count, (len(scored) + 2) // 3))
    picked = _pick(scored, count)
    return [s.sentence.text for s in sorted(picked, key=lambda s: s.sentence.index)]


def _as_point(text: str) -> str:
    text = re.sub(r"^(?:and|but|so|also|however|meanwhile),?\s+", "", text, flags=re.IGNORECASE)
    return text[:1].upper() + text[1:]


def key_points(
    doc: Document, scored: Sequence[Scored], count: int, summary: Sequence[str] = ()
) -> list[str]:
    """One point per section first (coverage), then the best remaining sentences; never a
    sentence of the summary, nor one close to it, so the two artifacts say different things."""
    in_summary = [s for s in scored if s.sentence.text in summary]
    scored = [s for s in scored if not any(s is t or _similar(s, t) for t in in_summary)]
    best_by_section: dict[int, Scored] = {}
    for s in scored:
        section = doc.blocks[s.sentence.block].section
        if section not in best_by_section or s.score > best_by_section[section].score:
            best_by_section[section] = s
    picked = _pick(list(best_by_section.values()), count)
    picked += _pick(scored, count - len(picked), picked)
    return [_as_point(s.sentence.text) for s in sorted(picked, key=lambda s: s.sentence.index)]


def clip(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else cut after a whole word, with …."""
    text = " ".join(text.split())
    cut = truncate_words(text, lambda t: len(t) <= limit)
    return cut if cut is not None else text[: limit - 1] + ELLIPSIS


def meta_description(scored: Sequence[Scored], limit: int = META_DESCRIPTION_MAX_CHARS) -> str:
    """The best sentences, in article order, that fit; the best one clipped if none fits."""
    ranked = sorted(scored, key=lambda s: (-s.score, s.sentence.index))
    if not ranked:
        return ""
    chosen: list[Scored] = []
    for cand in ranked[:12]:
        if any(_similar(cand, c) for c in chosen):
            continue
        trial = sorted([*chosen, cand], key=lambda s: s.sentence.index)
        if len(" ".join(s.sentence.text for s in trial)) <= limit:
            chosen = trial
    if chosen:
        return " ".join(s.sentence.text for s in chosen)
    return clip(ranked[0].sentence.text, limit)


_SMALL = frozenset("a an and as at but by for in of on or the to vs via with".split())  # noqa: SIM905


def _capitalize(word: str) -> str:
    return "-".join(p[:1].upper() + p[1:] for p in word.split("-"))


def headline_case(text: str) -> str:
    words_ = text.split(" ")
    return " ".join(
        w if (w.lower() in _SMALL and i > 0) else _capitalize(w) for i, w in enumerate(words_)
    )


# Section names every manual or README has: they say nothing about this article.
_GENERIC_HEADINGS = frozenset(
    """introduction overview contents description synopsis name options bugs authors author
    license licence copyright installation installing install usage summary conclusion notes
    note examples example files environment history references index sponsors contributing
    community changelog credits acknowledgements acknowledgments requirements documentation
    table-of-contents see-also project-links getting-started further-reading exit-status
    """.split()  # noqa: SIM905
)


def _heading_title(text: str) -> str | None:
    """A heading fit to stand in a headline: a short phrase of its own, not a stock name."""
    text = text.strip().rstrip(":")
    if text.isupper():
        text = headline_case(text.lower())
    key = "-".join(w.lower() for w in words(text))
    tokens = words(text)
    if not 1 <= len(tokens) <= 8 or key in _GENERIC_HEADINGS or _CODEISH.search(text):
        return None
    if text.endswith(".") or tokens[0].isdigit():
        return None
    return text


def titles(
    doc: Document, keywords: Sequence[Keyword], points: int, count: int, language: str
) -> list[str]:
    """The article's own title first, then the title with each of its telling headings.

    Only phrases the article itself uses are put together, so a suggestion is always a noun
    phrase or a question the author wrote; no template has to agree with a guessed noun.
    """
    base = (doc.title or "").strip().rstrip(":.") or None
    # "gitfaq: Frequently asked questions": a second colon would not read, so the part after
    # the colon leads the combinations.
    stem_title = base.split(": ", 1)[-1] if base else None
    headings = [h for b in doc.blocks if b.kind == "heading" if (h := _heading_title(b.text))]
    statements = [h for h in headings if not h.endswith("?")]
    questions = [h for h in headings if h.endswith("?")]
    phrases = [headline_case(k.text) if k.text.islower() else k.text for k in keywords]
    candidates: list[str] = []
    if base:
        candidates.append(base)
        assert stem_title is not None
        lowered = stem_title.lower()
        for h in statements:
            inside = h.lower() in lowered or lowered in h.lower()
            candidates.append(h if inside else f"{stem_title}: {h}")
        candidates += questions
        candidates += [f"{stem_title}: {p}" for p in phrases if p.lower() not in lowered]
    else:
        candidates += statements + questions + phrases
    seen: dict[str, str] = {}
    for cand in candidates:
        if cand and len(cand) <= TITLE_SUGGESTION_MAX_CHARS:
            seen.setdefault(cand.lower(), cand)
    return list(seen.values())[:count]
