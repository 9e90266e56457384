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
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token
from segtok.segmenter import split_single
from selectolax.lexbor import LexborHTMLParser, LexborNode

from pressroom.generation.kinds import SourceFormat

BlockKind = Literal["heading", "paragraph", "item", "quote", "code", "nav", "term", "cell"]
PROSE: frozenset[str] = frozenset({"paragraph", "item", "quote"})

_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff]")
_SPACES = re.compile(r"\s+")
_LIST_MARK = re.compile(r"^\s*(?:[-*+•·]|\d{1,3}[.)])\s+")
_TERMINAL = re.compile(r"[.!?:;\u2026\"\u201d\u2019)]$")
# A man page's running header and footer: "GITFAQ(7)   Git Manual   GITFAQ(7)".
_MAN_RUNNING = re.compile(r"^\S+\(\w+\)\s{3,}.*|^.*\s{3,}\S+\(\w+\)$")
_BARE_URL = re.compile(r"https?://\S+")
_COLUMNS = re.compile(r"\S\s{3,}\S")
_CODE_LINE = re.compile(
    r"^\s*(?:[$%>#]\s|\.\./|/\*|//)|[{};]\s*$|\w\(.*\)\s*;|\s(?:==|!=|->|=>|&&|\|\|)\s"
)
_NOT_HEADING = re.compile(r"[=$<>{}\[\]|;`/\\]|^[-+]")
_DASH = r"\s+[-\u2010\u2011\u2212\u2013\u2014]\s+"
_BREAK_HYPHEN = re.compile(r"(?<=[^\W\d_])[-\u2010]\n\s*(?=[^\W\d_])")

# Elements that are never article text.
_HTML_DROP = (
    "script, style, noscript, template, iframe, object, embed, svg, canvas, form, button, "
    "input, select, textarea, nav, aside, footer, figure, head, [role=navigation], "
    ".nav-panel, .navigation, .navheader, .navfooter, .breadcrumb, .breadcrumbs, .toc, #toc, "
    ".contents, .header, .footer, a.headerlink, a.copiable-anchor, caption"
)


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
    man_page: bool = False

    @cached_property
    def genre(self) -> Literal["faq", "reference", "article"]:
        """What kind of document this is, for where its most telling sentences sit."""
        headings = [b.text for b in self.blocks if b.kind == "heading"]
        if len(headings) >= 3 and sum(h.endswith("?") for h in headings) >= 0.4 * len(headings):
            return "faq"
        terms = sum(1 for b in self.blocks if b.kind == "term")
        if self.man_page or terms >= 5:
            return "reference"
        return "article"

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
    def first_prose_section(self) -> int:
        return next((b.section for b in self.blocks if b.kind in PROSE), 0)

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
        if kind in PROSE and sum(map(len, _BARE_URL.findall(text))) > 0.3 * len(text):
            kind = "nav"  # "The full list of Redis commands. https://redis.io/commands"
        if kind == "heading":
            section += 1
        blocks.append(Block(kind, text, section))
    return blocks


def _first_heading(blocks: list[Block]) -> str | None:
    return next((b.text for b in blocks if b.kind == "heading"), None)


def _drop_title_heading(blocks: list[Block], title: str | None) -> list[Block]:
    # The title heading is the title, not a section.
    if blocks and title and blocks[0].kind in ("heading", "paragraph") and blocks[0].text == title:
        return blocks[1:]
    return blocks


# -- plain text ---------------------------------------------------------------------------


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _is_heading_line(line: str, next_indent: int | None) -> bool:
    """A line on its own that titles what follows rather than saying something."""
    text = line.strip()
    n = len(words(text))
    if not 0 < n <= 14 or _NOT_HEADING.search(text) or not text[:1].isupper():
        return False
    if text.isupper() and n <= 8:
        return True  # man page sections: "DESCRIPTION", "SEE ALSO"
    deeper = next_indent is not None and next_indent > _indent(line)
    if text.endswith("?") and deeper:
        return True  # a FAQ's question over its indented answer
    return not _TERMINAL.search(text) and (deeper or next_indent is None)


def _looks_like_code(lines: list[str]) -> bool:
    codey = sum(1 for line in lines if _CODE_LINE.search(line))
    return codey * 2 >= len(lines)


def _text_groups(chunk: list[str]) -> list[list[str]]:
    """Lines of one blank-line chunk, split where the indentation changes.

    Man pages and other terminal text put a heading and its body in one chunk, told apart
    only by indentation; a wrapped paragraph keeps one indentation (its first line may be
    indented more or less, as with a hanging tag, so one change after the first is allowed).
    """
    groups: list[list[str]] = []
    for line in chunk:
        if groups and _indent(line) == _indent(groups[-1][-1]):
            groups[-1].append(line)
        elif groups and len(groups[-1]) == 1 and not _is_heading_line(groups[-1][0], _indent(line)):
            groups[-1].append(line)  # first line of a paragraph indented differently
        else:
            groups.append([line])
    return groups


def parse_text(text: str) -> list[Block]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    # Running headers and footers of rendered man pages are layout, not text.
    lines = ["" if _MAN_RUNNING.match(line.strip()) else line for line in lines]
    raw: list[tuple[BlockKind, str]] = []
    body_indent: int | None = None  # of the last paragraph: deeper lines are examples
    chunks = re.split(r"\n\s*\n", "\n".join(lines))
    for chunk in chunks:
        chunk_lines = [line for line in chunk.split("\n") if line.strip()]
        if not chunk_lines:
            continue
        if len(chunk_lines) > 1 and all(_COLUMNS.search(line.strip()) for line in chunk_lines):
            continue  # a table laid out in columns
        groups = _text_groups(chunk_lines)
        for g, group in enumerate(groups):
            next_indent = _indent(groups[g + 1][0]) if g + 1 < len(groups) else None
            indent = _indent(group[0])
            deeper = body_indent is not None and indent > body_indent + 2
            if len(group) == 1 and _is_heading_line(group[0], next_indent) and not deeper:
                raw.append(("heading", group[0]))
            elif _looks_like_code(group) or (deeper and not _TERMINAL.search(group[-1])):
                raw.append(("code", "\n".join(group)))
            elif all(_LIST_MARK.match(line) for line in group):
                raw += [("item", _LIST_MARK.sub("", line)) for line in group]
            elif _LIST_MARK.match(group[0]):  # one item wrapped with a hanging indent
                raw.append(("item", _LIST_MARK.sub("", " ".join(group))))
            else:
                joined = _BREAK_HYPHEN.sub("-", "\n".join(group))
                raw.append(("paragraph", joined))
                body_indent = _indent(group[-1])
    return _sectioned(raw)


# -- Markdown -----------------------------------------------------------------------------


def markdown_parser() -> MarkdownIt:
    # Raw HTML is parsed (READMEs are full of it) and never trusted: the text engine reads
    # it through selectolax, and render.py passes the rendered page through nh3.
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def _inline_text(token: Token) -> tuple[str, float]:
    """The inline's text, and the share of it that is link text (navigation when high)."""
    parts: list[str] = []
    linked = 0
    depth = 0
    for child in token.children or []:
        if child.type == "link_open":
            depth += 1
        elif child.type == "link_close":
            depth -= 1
        elif child.type in ("text", "code_inline"):
            parts.append(child.content)
            linked += len(child.content) if depth else 0
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)  # alt text
            linked += len(child.content) if depth else 0
    text = "".join(parts)
    return text, linked / max(1, len(text.strip()))


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
            case "html_block":
                raw += _html_blocks(LexborHTMLParser(token.content).body)
            case "inline":
                content, linked = _inline_text(token)
                kind: BlockKind = (
                    "heading"
                    if in_heading
                    else "nav"
                    if linked > 0.6
                    else "item"
                    if in_item
                    else "quote"
                    if in_quote
                    else "paragraph"
                )
                raw.append((kind, content))
    return _sectioned(raw)


# -- HTML ---------------------------------------------------------------------------------


def _html_root(tree: LexborHTMLParser) -> LexborNode | None:
    for selector in ("article", "main", "[role=main]", "body"):
        node = tree.css_first(selector)
        if node is not None:
            return node
    return tree.root


_BLOCK_KIND: dict[str, BlockKind] = {
    **{f"h{i}": "heading" for i in range(1, 7)},
    "pre": "code",
    "li": "item",
    "blockquote": "quote",
    "dt": "term",
    "td": "cell",
    "th": "cell",
    "caption": "cell",
}
_HTML_BREAKS = frozenset(
    {"p", "div", "ul", "ol", "dl", "dd", "table", "tr", "tbody", "thead", "section", "article",
     "main", "header", "body", "hr", "address", "center", "details", "summary", "figcaption"}
) | _BLOCK_KIND.keys()  # fmt: skip


class _HtmlText:
    """Text runs between block boundaries, each with the kind of block it sits in.

    Inline elements join without a separator ("<code>Result</code>?" is "Result?"): the
    source's own whitespace and <br>s carry the spacing. Loose text between blocks (old pages
    write paragraphs straight into <body>) is a paragraph of its own.
    """

    def __init__(self) -> None:
        self.blocks: list[tuple[BlockKind, str]] = []
        self._parts: list[str] = []
        self._linked = 0

    def flush(self, kind: BlockKind) -> None:
        text = "".join(self._parts)
        size = len(text.strip())
        if size:
            if kind not in ("heading", "code") and self._linked > 0.6 * size:
                kind = "nav"
            self.blocks.append((kind, text))
        self._parts, self._linked = [], 0

    def walk(self, node: LexborNode, kind: BlockKind, in_link: bool = False) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag or ""
            if child.is_text_node:
                text = child.text_content or ""
                self._parts.append(text)
                self._linked += len(text.strip()) if in_link else 0
            elif tag == "br":
                self._parts.append(" ")
            elif tag == "pre":
                self.flush(kind)
                self._parts.append(child.text(deep=True, separator=""))
                self.flush("code")
            elif tag in _HTML_BREAKS:
                inner = _BLOCK_KIND.get(tag, kind if kind in ("item", "quote") else "paragraph")
                self.flush(kind)
                self.walk(child, inner, in_link)
                self.flush(inner)
            else:
                self.walk(child, kind, in_link or tag == "a")


def _html_blocks(root: LexborNode | None) -> list[tuple[BlockKind, str]]:
    if root is None:
        return []
    collector = _HtmlText()
    collector.walk(root, "paragraph")
    collector.flush("paragraph")
    return collector.blocks


def parse_html(text: str) -> tuple[str | None, list[Block], str]:
    """Title (from <title> when the page has no <h1>), blocks, and the article's markup."""
    tree = LexborHTMLParser(text)
    page_title = tree.css_first("title")
    title_text = clean(page_title.text()) if page_title is not None else ""
    # "Article name | Site name", "Article name (Manual name)": keep the article's part.
    if title_text:
        title_text = re.split(r"\s+[|\u2013\u2014]\s+|\s+-\s+", title_text)[0]
        title_text = re.sub(r"\s+\([^()]*\)$", "", title_text)
    root = _html_root(tree)
    if root is None:
        return None, [], ""
    for node in root.css(_HTML_DROP):
        node.decompose()
    if root.tag == "body":
        for node in root.css("header"):
            if node.css_first("nav") is not None:
                node.decompose()
    blocks = _sectioned(_html_blocks(root))
    return (title_text or None), blocks, root.html or ""


def _man_title(blocks: list[Block]) -> tuple[str | None, list[Block]]:
    """A man page's NAME section ("gitfaq - Frequently asked questions...") is its title."""
    if len(blocks) >= 2 and blocks[0].kind == "heading" and blocks[0].text == "NAME":
        name = re.split(_DASH, blocks[1].text, maxsplit=1)
        if len(name) == 2:
            title = f"{name[0]}: {name[1][:1].upper()}{name[1][1:]}".rstrip(".")
            rest = blocks[2:]
            if rest and rest[0].text == "SYNOPSIS":
                # Command lines, not prose.
                section = rest[0].section
                rest = rest[:1] + [
                    b if b.section != section else Block("code", b.text, b.section)
                    for b in rest[1:]
                ]
            return title, rest
    return None, blocks


def _lead_title(blocks: list[Block]) -> str | None:
    # A README that opens with its name in a centred <p> or a bare line, not a heading.
    first = blocks[0] if blocks else None
    if first and first.kind == "paragraph" and len(words(first.text)) <= 6:
        return None if _TERMINAL.search(first.text) else first.text
    return None


def parse(text: str, source_format: SourceFormat, title: str | None = None) -> Document:
    article_html: str | None = None
    page_title: str | None = None
    if source_format == SourceFormat.MARKDOWN:
        blocks = parse_markdown(text)
    elif source_format == SourceFormat.HTML:
        page_title, blocks, article_html = parse_html(text)
    else:
        man_title, blocks = _man_title(parse_text(text))
        if man_title:
            return Document(clean(title) if title else man_title, blocks, man_page=True)
    heading = _first_heading(blocks[:1]) or _lead_title(blocks)
    doc_title = clean(title) if title else (heading or page_title)
    return Document(doc_title, _drop_title_heading(blocks, doc_title), article_html)
