"""Turn plain text, Markdown or HTML into one structure the builtin engine works on.

A `Document` is a title plus a list of blocks (headings, paragraphs, list items, quotes,
code); prose blocks are split into sentences. Nothing else in the engine looks at the raw
source, so each format's quirks (markup, boilerplate, navigation) stay in this module.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from itertools import islice
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token
from segtok.segmenter import split_single
from selectolax.lexbor import LexborHTMLParser, LexborNode

from pressroom.generation.kinds import SourceFormat

BlockKind = Literal["heading", "paragraph", "item", "quote", "code"]
PROSE: frozenset[str] = frozenset({"paragraph", "item", "quote"})

_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff]")
_SPACES = re.compile(r"\s+")
_LIST_MARK = re.compile(r"^\s*(?:[-*+•·]|\d{1,3}[.)])\s+")
_TERMINAL = re.compile(r"[.!?:;\u2026\"\u201d\u2019)]$")

# Elements that are never article text.
_HTML_DROP = (
    "script, style, noscript, template, iframe, object, embed, svg, canvas, form, button, "
    "input, select, textarea, nav, aside, footer, figure > img, head"
)
_HTML_BLOCKS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "dd", "dt",
     "figcaption", "td", "th"}
)  # fmt: skip


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def clean(text: str) -> str:
    """NFC, no control characters, single spaces."""
    text = unicodedata.normalize("NFC", text)
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str
    section: int  # index of the heading this block sits under (0 before any heading)


@dataclass(frozen=True)
class Sentence:
    text: str
    index: int  # position among all prose sentences
    block: int  # index into Document.blocks
    first_in_block: bool


@dataclass(frozen=True)
class Document:
    title: str | None
    blocks: list[Block]
    # The sanitizable article markup for HTML sources (boilerplate already removed).
    article_html: str | None = None

    @cached_property
    def sentences(self) -> list[Sentence]:
        out: list[Sentence] = []
        for b, block in enumerate(self.blocks):
            if block.kind not in PROSE:
                continue
            for i, part in enumerate(split_single(block.text)):
                part = part.strip()
                if part:
                    out.append(Sentence(part, len(out), b, i == 0))
        return out

    @cached_property
    def prose(self) -> str:
        return "\n\n".join(b.text for b in self.blocks if b.kind in PROSE)

    @cached_property
    def plain_text(self) -> str:
        """Headings and prose, no code: what keyword extraction and statistics read."""
        parts = [self.title] if self.title else []
        parts += [b.text for b in self.blocks if b.kind != "code"]
        return "\n\n".join(dict.fromkeys(parts))

    @cached_property
    def words(self) -> list[str]:
        return words(self.prose)


def _sectioned(raw: list[tuple[BlockKind, str]]) -> list[Block]:
    blocks: list[Block] = []
    section = 0
    for kind, text in raw:
        text = clean(text)
        if not text:
            continue
        if kind == "heading":
            section += 1
        blocks.append(Block(kind, text, section))
    return blocks


def _first_heading(blocks: list[Block]) -> str | None:
    return next((b.text for b in blocks if b.kind == "heading"), None)


def _drop_title_heading(blocks: list[Block], title: str | None) -> list[Block]:
    # The title heading is the title, not a section.
    if blocks and title and blocks[0].kind == "heading" and blocks[0].text == title:
        return blocks[1:]
    return blocks


# -- plain text ---------------------------------------------------------------------------


def _looks_like_heading(lines: list[str]) -> bool:
    if len(lines) != 1:
        return False
    line = lines[0].strip()
    return 0 < len(words(line)) <= 14 and not _TERMINAL.search(line)


def parse_text(text: str) -> list[Block]:
    raw: list[tuple[BlockKind, str]] = []
    for chunk in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [line for line in chunk.split("\n") if line.strip()]
        if not lines:
            continue
        if _looks_like_heading(lines):
            raw.append(("heading", lines[0]))
        elif all(_LIST_MARK.match(line) for line in lines):
            raw += [("item", _LIST_MARK.sub("", line)) for line in lines]
        else:
            raw.append(("paragraph", " ".join(lines)))
    return _sectioned(raw)


# -- Markdown -----------------------------------------------------------------------------


def markdown_parser() -> MarkdownIt:
    # Raw HTML is off: inline <script> in Markdown is shown as text, never passed through.
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)  # alt text
    return "".join(parts)


def parse_markdown(text: str) -> list[Block]:
    raw: list[tuple[BlockKind, str]] = []
    in_item = in_quote = 0
    in_heading = False
    for token in markdown_parser().parse(text):
        match token.type:
            case "list_item_open":
                in_item += 1
            case "list_item_close":
                in_item -= 1
            case "blockquote_open":
                in_quote += 1
            case "blockquote_close":
                in_quote -= 1
            case "heading_open":
                in_heading = True
            case "heading_close":
                in_heading = False
            case "fence" | "code_block":
                raw.append(("code", token.content))
            case "inline":
                kind: BlockKind = (
                    "heading"
                    if in_heading
                    else "item"
                    if in_item
                    else "quote"
                    if in_quote
                    else "paragraph"
                )
                raw.append((kind, _inline_text(token)))
    return _sectioned(raw)


# -- HTML ---------------------------------------------------------------------------------


def _html_root(tree: LexborHTMLParser) -> LexborNode | None:
    for selector in ("article", "main", "[role=main]", "body"):
        node = tree.css_first(selector)
        if node is not None:
            return node
    return tree.root


def _html_kind(node: LexborNode) -> BlockKind:
    tag = node.tag or ""
    if tag.startswith("h") and tag[1:].isdigit():
        return "heading"
    if tag == "pre":
        return "code"
    parent = node.parent
    while parent is not None:
        if parent.tag == "li":
            return "item"
        if parent.tag == "blockquote":
            return "quote"
        parent = parent.parent
    return {"li": "item", "blockquote": "quote"}.get(tag, "paragraph")  # type: ignore[return-value]


def _has_block_child(node: LexborNode) -> bool:
    # traverse() starts with the node itself.
    return any(child.tag in _HTML_BLOCKS for child in islice(node.traverse(), 1, None))


def parse_html(text: str) -> tuple[str | None, list[Block], str]:
    """Title (from <title> when the page has no <h1>), blocks, and the article's markup."""
    tree = LexborHTMLParser(text)
    page_title = tree.css_first("title")
    title_text = clean(page_title.text()) if page_title is not None else ""
    # "Article name | Site name": keep the article's part.
    title_text = re.split(r"\s+[|\u2013\u2014]\s+|\s+-\s+", title_text)[0] if title_text else ""
    root = _html_root(tree)
    if root is None:
        return None, [], ""
    for node in root.css(_HTML_DROP):
        node.decompose()
    if root.tag == "body":
        for node in root.css("header"):
            if node.css_first("nav") is not None:
                node.decompose()
    raw: list[tuple[BlockKind, str]] = []
    for node in root.traverse():
        if node.tag in _HTML_BLOCKS and not _has_block_child(node):
            raw.append((_html_kind(node), node.text(separator=" ")))
    blocks = _sectioned(raw)
    prose_words = sum(len(words(b.text)) for b in blocks)
    if prose_words < 0.5 * len(words(root.text(separator=" "))):
        # Markup without paragraphs (<div>s and <br>s): fall back to its lines.
        blocks = parse_text(root.text(separator="\n"))
    return (title_text or None), blocks, root.html or ""


def parse(text: str, source_format: SourceFormat, title: str | None = None) -> Document:
    article_html: str | None = None
    page_title: str | None = None
    if source_format == SourceFormat.MARKDOWN:
        blocks = parse_markdown(text)
    elif source_format == SourceFormat.HTML:
        page_title, blocks, article_html = parse_html(text)
    else:
        blocks = parse_text(text)
    heading = _first_heading(blocks[:1])
    doc_title = clean(title) if title else (heading or page_title)
    return Document(doc_title, _drop_title_heading(blocks, doc_title), article_html)
