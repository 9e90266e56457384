"""Driving the dashboard's HTML forms over HTTP (no browser): read the CSRF token a page
carries and post it back, as a browser would."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.http import PASSWORD, queued_mail, unique_email

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def post_form(
    client: TestClient, page: str, action: str, data: dict[str, Any], **kwargs: Any
) -> Any:
    """GET `page`, then POST `data` to `action` with the page's CSRF token."""
    token = csrf_from(client.get(page).text)
    return client.post(action, data={**data, "csrf_token": token}, follow_redirects=False, **kwargs)


def web_signup(client: TestClient, email: str | None = None, *, verify: bool = True) -> str:
    """A new account, signed in; verified (through the verify page, with the token of its
    e-mail) unless `verify=False`: an unverified account may not accept invitations."""
    email = email or unique_email("web")
    response = post_form(client, "/signup", "/signup", {"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    if verify:
        token = queued_mail(client, email, "verify_email")["token"]
        page = f"/verify-email?token={token}"
        verified = post_form(client, page, "/verify-email", {"token": token})
        assert verified.status_code == 303, verified.text
    return email


def web_org(client: TestClient, name: str = "Acme") -> str:
    response = post_form(client, "/orgs", "/orgs", {"name": name})
    assert response.status_code == 303, response.text
    org_id = response.headers["location"].split("/")[2]
    return org_id
