"""Social posts: how each network counts a post's length, and fitting a post into it.

Counting follows each network's own rules, because "280 characters" is not `len()`:
- X/Twitter (twitter-text v3): text is NFC-normalised; every URL counts 23; an emoji
  (a whole grapheme, skin tones and ZWJ sequences included) counts 2; a code point counts
  1 in the Latin, general-punctuation ranges the library lists, and 2 elsewhere (CJK...).
- Mastodon: code points, every URL counts 23.
- Bluesky: grapheme clusters (what a reader sees as one character).
- Threads, LinkedIn: UTF-16 code units, as their web clients measure a string; this is
  never fewer than code points, so a post that fits here fits however they count.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

import regex

from pressroom.generation.kinds import NETWORK_LIMITS, Network

ELLIPSIS = "\u2026"
_DANGLING = " ,;:-([{\"'\u2013\u2014\u201c\u2018"  # never end a cut on these
URL_WEIGHT = 23
URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'\u2019\u201d]")
_GRAPHEME = regex.compile(r"\X")
_EMOJI = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}")
# twitter-text v3 code point ranges that count 1 (weight 100 of scale 100); the rest count 2.
_TWITTER_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


def _twitter_grapheme(grapheme: str) -> int:
    if _EMOJI.search(grapheme):
        return 2
    return sum(1 if any(lo <= ord(ch) <= hi for lo, hi in _TWITTER_LIGHT) else 2 for ch in grapheme)


def _split_urls(text: str) -> tuple[str, int]:
    """The text with URLs removed, and how many there were."""
    return URL.subn("", text)


def post_length(network: Network, text: str) -> int:
    """The length of `text` as `network` counts it against its limit."""
    text = unicodedata.normalize("NFC", text)
    match network:
        case Network.TWITTER:
            rest, urls = _split_urls(text)
            return urls * URL_WEIGHT + sum(map(_twitter_grapheme, _GRAPHEME.findall(rest)))
        case Network.MASTODON:
            rest, urls = _split_urls(text)
            return urls * URL_WEIGHT + len(rest)
        case Network.BLUESKY:
            return len(_GRAPHEME.findall(text))
        case _:
            return len(text.encode("utf-16-le")) // 2


def fits(network: Network, text: str) -> bool:
    return post_length(network, text) <= NETWORK_LIMITS[network]


def hashtag(keyword: str) -> str | None:
    """`heat pumps` -> `#HeatPumps`; None when the keyword makes no usable tag."""
    parts = [p for p in re.split(r"[\W_]+", keyword) if p]
    tag = "".join(p if p[:1].isupper() else p[:1].upper() + p[1:] for p in parts)
    if len(tag) < 3 or len(tag) > 30 or tag.isdigit():
        return None
    return "#" + tag


def hashtags(keywords: Sequence[str], limit: int) -> list[str]:
    seen: dict[str, str] = {}
    for keyword in keywords:
        tag = hashtag(keyword)
        if tag and tag.lower() not in seen:
            seen[tag.lower()] = tag
    return list(seen.values())[:limit]


def truncate_words(text: str, accept: Callable[[str], bool]) -> str | None:
    """The longest word-boundary prefix of `text` (ending in … when cut) that `accept`s."""
    if accept(text):
        return text
    tokens = text.split(" ")
    lo, hi, best = 1, len(tokens) - 1, None
    while lo <= hi:  # binary search: acceptance is monotonic in the prefix length
        mid = (lo + hi) // 2
        candidate = " ".join(tokens[:mid]).rstrip(_DANGLING) + ELLIPSIS
        if accept(candidate):
            best, lo = candidate, mid + 1
        else:
            hi = mid - 1
    return best


def compose(
    network: Network,
    chunks: Sequence[str],
    *,
    url: str | None = None,
    tags: Sequence[str] = (),
    joiner: str = " ",
) -> str:
    """A post from `chunks` (most important first), the link and hashtags, within the limit.

    Whole chunks are kept while they fit; hashtags go before the first chunk would have to be
    cut; the first chunk is cut on a word boundary only as a last resort.
    """

    def assemble(body: str, n_tags: int) -> str:
        parts = [body, url or "", " ".join(tags[:n_tags])]
        return "\n\n".join(p for p in parts if p)

    chunks = [c for c in chunks if c.strip()]
    for n_tags in range(len(tags), -1, -1):
        body = ""
        for chunk in chunks:
            candidate = f"{body}{joiner}{chunk}" if body else chunk
            if not fits(network, assemble(candidate, n_tags)):
                break
            body = candidate
        if body:
            return assemble(body, n_tags)
    first = chunks[0] if chunks else ""
    cut = truncate_words(first, lambda text: fits(network, assemble(text, 0)))
    if cut is None:  # one giant word: keep what fits, grapheme by grapheme
        graphemes = _GRAPHEME.findall(first)
        while graphemes and not fits(network, assemble("".join(graphemes) + ELLIPSIS, 0)):
            graphemes.pop()
        cut = "".join(graphemes) + ELLIPSIS
    return assemble(cut, 0)
