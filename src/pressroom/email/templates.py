"""The messages we send: a subject and two Jinja2 templates (text and HTML) each, in
email/messages/<name>.txt.j2 and <name>.html.j2."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2

TEMPLATES: dict[str, str] = {
    "invitation": "You are invited to join {{ org_name }} on Pressroom",
    "verify_email": "Verify your e-mail address",
    "password_reset": "Reset your Pressroom password",
    "endpoint_disabled": "A webhook endpoint of {{ org_name }} was disabled",
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@lru_cache
def _environments() -> tuple[jinja2.Environment, jinja2.Environment]:
    loader = jinja2.PackageLoader("pressroom.email", "messages")
    undefined = jinja2.StrictUndefined  # a missing variable is a bug, not a blank
    text_env = jinja2.Environment(loader=loader, undefined=undefined, autoescape=False)  # noqa: S701 - plain text
    html_env = jinja2.Environment(loader=loader, undefined=undefined, autoescape=True)
    return text_env, html_env


def render(template: str, context: dict[str, Any]) -> Rendered:
    text_env, html_env = _environments()
    subject = text_env.from_string(TEMPLATES[template]).render(context)
    return Rendered(
        subject=" ".join(subject.split()),  # no header injection through a name
        text=text_env.get_template(f"{template}.txt.j2").render(context),
        html=html_env.get_template(f"{template}.html.j2").render(context),
    )
