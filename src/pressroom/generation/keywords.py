"""Keywords: YAKE candidates, re-ranked by how often the phrase recurs, deduplicated."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import yake

from pressroom.generation.document import Document, words

# YAKE's cost grows with the text; the first 60k characters hold an article's vocabulary.
_MAX_CHARS = 60_000
_TERMINAL = re.compile(r"[.!?:;…]$")

# Frequent English verbs and fillers that YAKE, having no part-of-speech tagger, can rank as
# keywords ("makes", "works"); a keyword never starts or ends with one.
_GENERIC_EN = frozenset(
    """
    make makes made making work works worked working use uses used using take takes took
    taken get gets got give gives gave given go goes went come comes came keep keeps kept
    produce produces produced need needs needed help helps helped say says said tell tells
    told know knows knew think thinks thought find finds found show shows showed mean means
    meant seem seems seemed become becomes became leave leaves left start starts started
    move moves moved turn turns turned bring brings brought begin begins began run runs ran
    want wants wanted look looks looked try tries tried call calls called ask asks asked
    put puts set sets let lets feel feels felt change changes changed learn learns learned
    lot lots thing things way ways much many more most less least well also even still
    new good great big small first last long little right high different
    """.split()  # noqa: SIM905
)


@lru_cache(maxsize=32)
def stopwords(language: str) -> frozenset[str]:
    """YAKE's stopword list for the language (a language-neutral list when it has none)."""
    return frozenset(yake.KeywordExtractor(lan=language).stopword_set)


def stem(word: str) -> str:
    """Lower case, English plural folded: 'heat pumps' is 'heat pump', 'libraries' 'library',
    'branches' 'branch'."""
    word = word.lower()
    if len(word) <= 3 or not word.endswith("s") or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    return word[:-1]


@dataclass(frozen=True)
class Keyword:
    text: str
    score: float  # lower is better, as in YAKE
    occurrences: int


def _yake_text(doc: Document) -> str:
    # Close every block with a full stop so YAKE does not glue a heading to the next line.
    parts = [doc.title] if doc.title else []
    parts += [b.text for b in doc.blocks if b.kind != "code"]
    return " ".join(p if _TERMINAL.search(p) else p + "." for p in parts)[:_MAX_CHARS]


def _casing(phrase: str, spellings: dict[str, Counter[str]]) -> str:
    """Each word as the prose writes it most often away from a sentence's start: "Git" and
    "HTTP" keep their capitals, "Frequently" (capitalised only after a full stop) does not."""
    out = []
    for word in phrase.split(" "):
        forms = spellings.get(word.lower())
        out.append(forms.most_common(1)[0][0] if forms else word.lower())
    return " ".join(out)


def _spellings(doc: Document) -> dict[str, Counter[str]]:
    forms: dict[str, Counter[str]] = {}
    for sentence in doc.sentences:
        for word in words(sentence.text)[1:]:
            forms.setdefault(word.lower(), Counter())[word] += 1
    return forms


def _surface(phrase: str, text: str) -> str:
    """The way the article writes the phrase most often: "heat pumps" over "heat pump"."""
    base = phrase[:-1] if phrase.endswith("s") and stem(phrase) != phrase.lower() else phrase
    forms = {base: 0, base + "s": 0}
    for form in forms:
        forms[form] = len(re.findall(rf"(?<!\w){re.escape(form)}(?!\w)", text, re.IGNORECASE))
    best = max(forms, key=lambda f: (forms[f], f == phrase))
    return best if forms[best] else phrase


def extract(doc: Document, count: int, language: str) -> list[Keyword]:
    text = _yake_text(doc)
    if not text:
        return []
    extractor = yake.KeywordExtractor(lan=language, n=3, top=max(80, count * 6))
    candidates: list[tuple[str, float]] = extractor.extract_keywords(text)
    stems = " " + " ".join(stem(w) for w in words(text)) + " "
    generic = _GENERIC_EN if language == "en" else frozenset()
    ranked: list[tuple[float, int, str, tuple[str, ...], int]] = []
    for position, (phrase, score) in enumerate(candidates):
        key = tuple(stem(w) for w in words(phrase))
        if not key or key[0] in generic or key[-1] in generic or all(k.isdigit() for k in key):
            continue
        occurrences = stems.count(" " + " ".join(key) + " ")
        if occurrences < 2 and len(candidates) > count * 2:
            continue  # a phrase said once is rarely what the article is about
        # Recurring and multi-word phrases say more about the article than YAKE alone weighs.
        weight = max(occurrences, 1) ** 0.5 * (1.5 if len(key) > 1 else 1.0)
        ranked.append((score / weight, position, phrase, key, occurrences))
    ranked.sort()
    chosen: list[tuple[str, tuple[str, ...], float, int]] = []
    for score, _, phrase, key, occurrences in ranked:
        keys = set(key)
        clashes = [i for i, c in enumerate(chosen) if keys <= set(c[1]) or keys >= set(c[1])]
        if clashes:
            # "heat pump" replaces an already chosen "pump"; any other overlap is a duplicate.
            i = clashes[0]
            if len(clashes) == 1 and len(chosen[i][1]) == 1 and keys > set(chosen[i][1]):
                chosen[i] = (phrase, key, score, occurrences)
            continue
        chosen.append((phrase, key, score, occurrences))
        if len(chosen) == count:
            break
    spellings = _spellings(doc)
    return [Keyword(_casing(_surface(p, text), spellings), round(s, 6), n) for p, _, s, n in chosen]
