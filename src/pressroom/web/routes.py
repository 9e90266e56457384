"""The dashboard's router: every page, and its static files."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter
from starlette.responses import Response

from pressroom.errors import NotFound
from pressroom.web.core import WebRoute
from pressroom.web.pages import account, billing, jobs, mailbox, orgs, recovery, webhooks

STATIC_DIR = Path(__file__).parent / "static"
_MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
# Read once: a fixed set of our own files, so no request can name a path outside them.
_STATIC = {
    path.name: (path.read_bytes(), _MEDIA_TYPES[path.suffix])
    for path in STATIC_DIR.iterdir()
    if path.suffix in _MEDIA_TYPES
}
_ETAGS = {name: hashlib.sha256(body).hexdigest()[:16] for name, (body, _) in _STATIC.items()}

router = APIRouter(include_in_schema=False, route_class=WebRoute)
for pages in (account, recovery, orgs, jobs, billing, webhooks, mailbox):
    router.include_router(pages.router)


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in _STATIC:
        raise NotFound("No such file.")
    body, media_type = _STATIC[name]
    return Response(
        body,
        media_type=media_type,
        headers={"ETag": f'"{_ETAGS[name]}"', "Cache-Control": "public, max-age=300"},
    )
