"""Forgot/reset password and verify e-mail through the dashboard's forms."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pressroom.auth import password_reset
from pressroom.db.tenancy import SystemDuty, system_engine
from tests.http import PASSWORD, queued_mail
from tests.web.forms import post_form, web_signup

NEW_PASSWORD = "an-entirely-new-passphrase-42"


def _reset_token(client: TestClient, email: str) -> str:
    # What the worker does at send time: the token exists only for a real account.
    queued_mail(client, email, "password_reset")
    app = client.app
    engine = system_engine(app.state.engine, SystemDuty.MAINTENANCE)  # type: ignore[attr-defined]
    with engine.begin() as conn:
        context = password_reset.preparer(app.state.settings)(conn, email, {})  # type: ignore[attr-defined]
    assert context is not None
    assert str(context["reset_url"]).endswith(f"/reset-password?token={context['token']}")
    return str(context["token"])


def test_reset_ends_every_session_and_the_new_password_works(client: TestClient) -> None:
    email = web_signup(client)
    assert client.get("/account").status_code == 200
    sent = post_form(client, "/forgot-password", "/forgot-password", {"email": email})
    assert sent.status_code == 303
    nobody = post_form(
        client, "/forgot-password", "/forgot-password", {"email": "nobody@example.com"}
    )
    assert nobody.status_code == 303
    assert nobody.headers["location"] == sent.headers["location"]
    token = _reset_token(client, email)
    page = f"/reset-password?token={token}"
    weak = post_form(client, page, "/reset-password", {"token": token, "password": "short"})
    assert weak.status_code == 422
    assert 'aria-invalid="true"' in weak.text
    done = post_form(client, page, "/reset-password", {"token": token, "password": NEW_PASSWORD})
    assert done.status_code == 303
    assert done.headers["location"] == "/login?reset=1"
    assert "pressroom_session" not in client.cookies or not client.cookies.get("pressroom_session")
    assert client.get("/account", follow_redirects=False).status_code == 303
    again = post_form(client, page, "/reset-password", {"token": token, "password": NEW_PASSWORD})
    assert again.status_code == 400 or again.status_code == 422
    old = post_form(client, "/login", "/login", {"email": email, "password": PASSWORD})
    assert old.status_code != 303
    new = post_form(client, "/login", "/login", {"email": email, "password": NEW_PASSWORD})
    assert new.status_code == 303


def test_forms_refuse_a_missing_csrf_token(client: TestClient) -> None:
    for path, data in [
        ("/forgot-password", {"email": "a@example.com"}),
        ("/reset-password", {"token": "x", "password": NEW_PASSWORD}),
        ("/verify-email", {"token": "x"}),
    ]:
        response = client.post(path, data=data, follow_redirects=False)
        assert response.status_code == 403, path


def test_verify_from_the_mailed_link_and_resend(client: TestClient) -> None:
    email = web_signup(client, verify=False)
    assert "Resend verification" in client.get("/account").text
    resent = post_form(client, "/account", "/account/verify-email/resend", {})
    assert resent.status_code == 303
    url = str(queued_mail(client, email, "verify_email")["verify_url"])
    path = url[url.index("/verify-email") :]
    token = path.split("token=", 1)[1]
    page = client.get(path)
    assert page.status_code == 200
    assert "content-security-policy" in page.headers
    done = post_form(client, path, "/verify-email", {"token": token})
    assert done.status_code == 303
    assert done.headers["location"] == "/account?saved=verified"
    assert "Resend verification" not in client.get("/account").text
    used = post_form(client, path, "/verify-email", {"token": token})
    assert used.status_code >= 400
    assert used.status_code < 500
