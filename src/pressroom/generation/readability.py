"""Reading time and readability scores.

textstat is the usual library for this, but for English it calls `nltk.download('cmudict')`
at run time (textstat/backend/utils/_get_cmudict.py), which this project forbids. The
formulas are short and public, so they live here. English syllables come from syllapy, whose
wheel ships a pronunciation-derived syllable table (and a rule fallback for unknown words);
hyphenation points (pyphen) undercount them, since a dictionary does not hyphenate every
syllable ("every" has three syllables and one hyphenation point). Other languages use pyphen.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

import pyphen
import syllapy

from pressroom.generation.document import Document

WORDS_PER_MINUTE = 238  # adult silent reading of non-fiction (Brysbaert, 2019)
_VOWELS = re.compile(r"[aeiouyàâäéèêëîïôöûüùæœáíóúåø]+", re.IGNORECASE)


@lru_cache(maxsize=16)
def _dictionary(language: str) -> pyphen.Pyphen | None:
    lang = pyphen.language_fallback(language) or pyphen.language_fallback(language[:2])
    return pyphen.Pyphen(lang=lang) if lang else None


def syllables(word: str, language: str) -> int:
    if language == "en":
        return max(1, int(syllapy.count(word)))
    dic = _dictionary(language)
    if dic is not None:
        return len(dic.positions(word)) + 1
    return max(1, len(_VOWELS.findall(word)))


def _level(ease: float) -> str:
    for floor, label in ((90, "very easy"), (80, "easy"), (70, "fairly easy"), (60, "standard"),
                         (50, "fairly difficult"), (30, "difficult")):  # fmt: skip
        if ease >= floor:
            return label
    return "very difficult"


def stats(doc: Document, language: str) -> dict[str, Any]:
    tokens = doc.words
    n_words = len(tokens)
    n_sentences = max(1, len(doc.sentences))
    letters = sum(len(w) for w in tokens)
    counts = [syllables(w, language) for w in tokens]
    n_syllables = sum(counts)
    complex_words = sum(1 for c in counts if c >= 3)
    wps = n_words / n_sentences
    spw = n_syllables / max(1, n_words)
    ease = 206.835 - 1.015 * wps - 84.6 * spw
    reading_seconds = math.ceil(n_words / WORDS_PER_MINUTE * 60)
    per100 = 100 / max(1, n_words)
    return {
        "words": n_words,
        "sentences": len(doc.sentences),
        "paragraphs": sum(1 for b in doc.blocks if b.kind != "heading"),
        "headings": sum(1 for b in doc.blocks if b.kind == "heading"),
        "characters": len(doc.prose),
        "reading_time_seconds": reading_seconds,
        "reading_time_minutes": max(1, round(reading_seconds / 60)),
        "words_per_sentence": round(wps, 1),
        "syllables_per_word": round(spw, 2),
        "flesch_reading_ease": round(ease, 1),
        "flesch_kincaid_grade": round(0.39 * wps + 11.8 * spw - 15.59, 1),
        "gunning_fog": round(0.4 * (wps + 100 * complex_words / max(1, n_words)), 1),
        "smog_index": round(1.043 * math.sqrt(complex_words * 30 / n_sentences) + 3.1291, 1),
        "coleman_liau_index": round(
            0.0588 * letters * per100 - 0.296 * n_sentences * per100 - 15.8, 1
        ),
        "automated_readability_index": round(
            4.71 * letters / max(1, n_words) + 0.5 * wps - 21.43, 1
        ),
        "reading_level": _level(ease),
        "language": language,
        # English formulas: only indicative for other languages.
        "formulas_calibrated_for": "en",
    }
