"""The dashboard's browser-facing defences: cookies, CSRF tokens, response headers.

- The session cookie holds a login session's refresh token (HttpOnly, SameSite=Lax, Secure
  in production), so it is checked, listed and ended exactly like an API login.
- CSRF: signed double submit. A random `pressroom_csrf` cookie, and in every form the
  HMAC (keyed by the app's secret) of that cookie and the login session it belongs to.
  A cross-site page can neither read the cookie nor forge the HMAC; a token stolen from a
  form dies with its session. Compared in constant time.
- Every dashboard response carries a strict CSP (no inline script, nothing from another
  origin, no framing), and `no-store` so a shared computer's back button shows nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from starlette.requests import Request
from starlette.responses import Response

from pressroom.config import Settings

SESSION_COOKIE = "pressroom_session"
CSRF_COOKIE = "pressroom_csrf"
CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self'",
        "form-action 'self' https:",  # checkout and the billing portal are hosted elsewhere
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Invitation links carry their token in the query: never send it to another site.
    # (Not no-referrer: with it, browsers send `Origin: null` on our own form posts.)
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cache-Control": "no-store",
}
HSTS = "max-age=31536000; includeSubDomains"


def add_security_headers(response: Response, settings: Settings) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if settings.is_production:
        response.headers["Strict-Transport-Security"] = HSTS


def set_cookie(
    response: Response, settings: Settings, name: str, value: str, *, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.is_production,
    )


def clear_cookie(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=settings.is_production
    )


def csrf_seed(request: Request) -> str:
    """This browser's CSRF cookie value; a new one (set on the response) if it has none."""
    seed: str | None = getattr(request.state, "csrf_seed", None)
    if seed is None:
        seed = request.cookies.get(CSRF_COOKIE) or ""
        if not 32 <= len(seed) <= 128:
            seed = secrets.token_urlsafe(32)
            request.state.new_csrf_seed = seed
        request.state.csrf_seed = seed
    return seed


def renew_csrf_seed(request: Request) -> None:
    """A fresh seed at login and logout, so a token seen before does not outlive them."""
    request.state.csrf_seed = request.state.new_csrf_seed = secrets.token_urlsafe(32)


def csrf_token(settings: Settings, seed: str, session_id: uuid.UUID | None) -> str:
    message = f"csrf:{seed}:{session_id or ''}".encode()
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def csrf_valid(
    settings: Settings, seed: str | None, session_id: uuid.UUID | None, token: str
) -> bool:
    if not seed:
        return False
    return hmac.compare_digest(csrf_token(settings, seed, session_id), token)


def same_origin(request: Request) -> bool:
    """False when the browser says the form came from another site (defence in depth: the
    token is the real check). `Origin: null` (privacy modes) defers to Sec-Fetch-Site."""
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        return origin == f"{request.url.scheme}://{request.url.netloc}"
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
