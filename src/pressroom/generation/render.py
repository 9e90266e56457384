"""The source as safe HTML: Markdown rendered, HTML sanitised, text paragraphed.

Whatever the format, the output goes through nh3 (the Ammonia sanitiser): an allow-list of
tags and attributes, no scripts, styles, event handlers or javascript: URLs, and links get
rel="noopener noreferrer nofollow". Markdown is rendered with raw HTML off as a first wall.
"""

from __future__ import annotations

import html

import nh3

from pressroom.generation.document import Document, markdown_parser
from pressroom.generation.kinds import SourceFormat

_DROP_WITH_CONTENT = {"script", "style", "noscript", "template", "iframe", "object", "title"}


def sanitize(markup: str) -> str:
    return nh3.clean(
        markup,
        clean_content_tags=_DROP_WITH_CONTENT,
        link_rel="noopener noreferrer nofollow",
        url_schemes={"http", "https", "mailto"},
    ).strip()


def _text_html(doc: Document) -> str:
    parts = [f"<h1>{html.escape(doc.title)}</h1>"] if doc.title else []
    in_list = False
    for block in doc.blocks:
        if block.kind == "item" and not in_list:
            parts.append("<ul>")
            in_list = True
        elif block.kind != "item" and in_list:
            parts.append("</ul>")
            in_list = False
        text = html.escape(block.text)
        tag = {"heading": "h2", "item": "li", "quote": "blockquote", "code": "pre"}.get(
            block.kind, "p"
        )
        parts.append(f"<{tag}>{text}</{tag}>")
    if in_list:
        parts.append("</ul>")
    return "\n".join(parts)


def render(source: str, source_format: SourceFormat, doc: Document) -> str:
    if source_format == SourceFormat.MARKDOWN:
        return sanitize(markdown_parser().render(source))
    if source_format == SourceFormat.HTML:
        return sanitize(doc.article_html or "")
    return sanitize(_text_html(doc))
