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


@dataclass(frozen=True)
class Scored:
    sentence: Sentence
    score: float
    terms: frozenset[str]


def _terms(text: str, stop: frozenset[str]) -> list[str]:
    return [stem(w) for w in words(text) if w.lower() not in stop and not w.isdigit()]


def score_sentences(doc: Document, keywords: Sequence[Keyword], language: str) -> list[Scored]:
    stop = stopwords(language)
    sentences = doc.sentences
    bags = [_terms(s.text, stop) for s in sentences]
    freq = Counter(t for bag in bags for t in bag)
    if not freq:
        return []
    top = max(freq.values())
    keyword_terms = {stem(w) for k in keywords[:8] for w in words(k.text)}
    title_terms = set(_terms(doc.title or "", stop))
    scored: list[Scored] = []
    for sentence, bag in zip(sentences, bags, strict=True):
        n_words = len(words(sentence.text))
        if not bag or n_words < 3:
            continue
        weight = sum(
            freq[t] / top * (1.5 if t in keyword_terms else 1.0) * (1.2 if t in title_terms else 1)
            for t in set(bag)
        )
        score = weight / len(bag) ** 0.5
        if sentence.index == 0:
            score *= 1.3
        elif sentence.first_in_block:
            score *= 1.1
        first = words(sentence.text)[0].lower()
        if language == "en" and first in _DEPENDENT_EN:
            score *= 0.75
        if sentence.text.endswith("?"):
            score *= 0.7
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


def key_points(doc: Document, scored: Sequence[Scored], count: int) -> list[str]:
    """One point per section first (coverage), then the best remaining sentences."""
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
    for cand in ranked[:6]:
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


def titles(
    doc: Document, keywords: Sequence[Keyword], points: int, count: int, language: str
) -> list[str]:
    """Headline candidates built around the article's leading keyphrases."""
    phrases = [k.text for k in keywords]
    multi = [p for p in phrases if " " in p]
    main = (multi or phrases or [doc.title or ""])[0]
    others = [p for p in phrases if p != main]
    # A second phrase only reads well in a headline when it is a phrase or a name.
    second = next((o for o in others if " " in o or o[:1].isupper()), None)
    m, s = headline_case(main), headline_case(second) if second else None
    if language == "en":
        candidates = [
            f"Why {m} Matters",
            f"{m}: What You Need to Know",
            f"{points} Things to Know About {m}" if points >= 3 else None,
            f"What {m} Means for {s}" if s else None,
            f"{m} and {s}, Explained" if s else None,
            f"A Practical Guide to {m}",
            f"{m}: Lessons So Far",
            f"The Case for {m}",
            f"{m} in {points} Key Points" if points >= 3 else None,
            f"Everything You Need to Know About {m}",
        ]
    else:
        candidates = [m, *(f"{m}: {headline_case(o)}" for o in others)]
    seen: dict[str, str] = {}
    for cand in candidates:
        if cand and cand.strip() and len(cand) <= TITLE_SUGGESTION_MAX_CHARS:
            seen.setdefault(cand.lower(), cand)
    return list(seen.values())[:count]
