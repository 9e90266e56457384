"""Is the source usable at all? Refuse garbage as the user's error, before any work."""

from __future__ import annotations

import re

from pressroom.generation.document import Document, words
from pressroom.generation.errors import InputError
from pressroom.generation.keywords import stopwords

MIN_WORDS = 8
_LETTER = re.compile(r"[^\W\d_]")


def check_usable(doc: Document, language: str) -> None:
    tokens = doc.words
    if len(tokens) < MIN_WORDS:
        raise InputError(
            f"The text has too little prose to work with ({len(tokens)} words; "
            f"at least {MIN_WORDS} are needed)."
        )
    visible = re.sub(r"\s+", "", doc.prose)
    if len(_LETTER.findall(visible)) < 0.5 * len(visible):
        raise InputError("The text is mostly symbols or digits, not prose.")
    if sum(1 for t in tokens if len(t) > 25) > 0.2 * len(tokens):
        raise InputError("The text looks like encoded data, not prose.")
    if not any(len(words(s.text)) >= 4 for s in doc.sentences):
        raise InputError("The text has no sentence of four words or more.")
    stop = stopwords(language)
    if len(stop) > 50 and len(tokens) >= MIN_WORDS:
        # Real prose in any language is roughly a third function words; noise has none.
        ratio = sum(1 for t in tokens if t.lower() in stop) / len(tokens)
        if ratio < 0.05:
            raise InputError(
                f"The text does not read as prose in language {language!r} "
                "(almost no common words); check the text and its `language`."
            )
