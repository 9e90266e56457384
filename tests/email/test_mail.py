"""E-mail through the outbox to a real SMTP server (aiosmtpd), and the flows that use it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from pressroom.cli import app as cli
from pressroom.config import get_settings
from pressroom.db.tenancy import SystemDuty, system_engine
from pressroom.db.url import to_libpq_url
from tests.http import (
    PASSWORD,
    bearer,
    create_org,
    invite,
    login,
    new_user,
    signup,
    unique_email,
)
from tests.outbound import running_loop, smtp_server, text_part, wait_until

NEW_PASSWORD = "a brand new passphrase 42"


def _engine(client: TestClient) -> Engine:
    """The app's engine, across orgs (the test plays the worker and reads every org)."""
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return system_engine(engine, SystemDuty.MAINTENANCE)


def _token(body: str, prefix: str) -> str:
    match = re.search(rf"\b{prefix}[A-Za-z0-9_-]+", body)
    assert match, body
    return match.group(0)


def _mail_rows(client: TestClient, template: str) -> list[tuple[str, str]]:
    with _engine(client).connect() as conn:
        return [
            (row[0], row[1])
            for row in conn.execute(
                text(
                    "SELECT payload ->> 'to', status FROM outbox_messages"
                    " WHERE payload ->> 'template' = :t ORDER BY id"
                ),
                {"t": template},
            )
        ]


class TestInvitationMail:
    def test_the_invitee_gets_an_accept_link_with_the_token(self, client: TestClient) -> None:
        _, owner = new_user(client, "owner")
        org = create_org(client, owner, "Harbour Weekly")
        invitee = unique_email("invitee")
        token = invite(client, owner, org, invitee)["token"]  # still returned to the API
        with smtp_server() as (url, inbox), running_loop(_engine(client), smtp_url=url):
            wait_until(lambda: any(m["To"] == invitee for m in inbox))
        (mail,) = [m for m in inbox if m["To"] == invitee]
        assert "Harbour Weekly" in mail["Subject"]
        body = text_part(mail)
        assert f"/invitations/accept?token={token}" in body
        assert mail.get_content_type() == "multipart/alternative"


class TestPasswordReset:
    def test_reset_by_mail_sets_the_password_and_ends_every_session(
        self, client: TestClient
    ) -> None:
        email = signup(client)
        first, second = login(client, email), login(client, email)
        answer = client.post("/v1/auth/password-reset", json={"email": email.upper()})
        assert answer.status_code == 202
        with smtp_server() as (url, inbox), running_loop(_engine(client), smtp_url=url):
            wait_until(lambda: [m for m in inbox if "password" in m["Subject"]])
        (mail,) = [m for m in inbox if "password" in m["Subject"]]
        assert mail["To"] == email
        token = _token(text_part(mail), "prp_")
        confirm = client.post(
            "/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
        )
        assert confirm.status_code == 200, confirm.text
        assert confirm.json() == {"sessions_ended": 2}
        for tokens in (first, second):
            me = client.get("/v1/me", headers=bearer(tokens["access_token"]))
            assert me.status_code == 401
            refreshed = client.post(
                "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            assert refreshed.status_code == 401
        old = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert old.status_code == 401
        login(client, email, NEW_PASSWORD)
        again = client.post(
            "/v1/auth/password-reset/confirm", json={"token": token, "password": PASSWORD}
        )
        assert again.status_code == 422
        assert again.json()["code"] == "invalid_token"

    def test_an_unknown_address_is_answered_the_same_and_mailed_nothing(
        self, client: TestClient
    ) -> None:
        known = signup(client)
        unknown = unique_email("nobody")
        answers = [
            client.post("/v1/auth/password-reset", json={"email": e}) for e in (known, unknown)
        ]
        assert [a.status_code for a in answers] == [202, 202]
        assert answers[0].json() == answers[1].json()
        # The request did the same work for both: one outbox row each, alike but the address.
        assert _mail_rows(client, "password_reset") == [(known, "pending"), (unknown, "pending")]
        with smtp_server() as (url, inbox), running_loop(_engine(client), smtp_url=url):
            wait_until(
                lambda: {s for _, s in _mail_rows(client, "password_reset")} == {"delivered"}
            )
        assert [m["To"] for m in inbox if "password" in m["Subject"]] == [known]

    def test_a_weak_password_keeps_the_token_usable(self, client: TestClient) -> None:
        email = signup(client)
        client.post("/v1/auth/password-reset", json={"email": email})
        with smtp_server() as (url, inbox), running_loop(_engine(client), smtp_url=url):
            (mail,) = wait_until(lambda: [m for m in inbox if "password" in m["Subject"]])
        # Not inbox[-1]: the signup's verification mail may arrive after the reset mail.
        token = _token(text_part(mail), "prp_")
        weak = client.post(
            "/v1/auth/password-reset/confirm", json={"token": token, "password": "short"}
        )
        assert weak.status_code == 422
        assert weak.json()["errors"][0]["field"] == "password"
        ok = client.post(
            "/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
        )
        assert ok.status_code == 200

    def test_tokens_expire_and_are_stored_hashed(self, client: TestClient) -> None:
        email = signup(client)
        client.post("/v1/auth/password-reset", json={"email": email})
        with smtp_server() as (url, inbox), running_loop(_engine(client), smtp_url=url):
            (mail,) = wait_until(lambda: [m for m in inbox if "password" in m["Subject"]])
        # Not inbox[-1]: the signup's verification mail may arrive after the reset mail.
        token = _token(text_part(mail), "prp_")
        with _engine(client).begin() as conn:
            stored = conn.execute(
                text("SELECT token_hash, expires_at FROM account_tokens WHERE purpose = :p"),
                {"p": "password_reset"},
            ).one()
            assert token not in stored[0]
            assert stored[1] - datetime.now(UTC) < timedelta(hours=1, seconds=5)
            # The delivered mail's row no longer holds the link.
            assert "context" not in str(
                conn.execute(
                    text("SELECT payload FROM outbox_messages WHERE event_type = :t"),
                    {"t": "email.password_reset"},
                ).scalar()
            )
            conn.execute(text("UPDATE account_tokens SET expires_at = now()"))
        late = client.post(
            "/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
        )
        assert late.status_code == 422

    def test_bad_input_is_422(self, client: TestClient) -> None:
        for body in ({}, {"email": ""}, {"email": "x" * 400}, {"email": "a\x00b"}):
            assert client.post("/v1/auth/password-reset", json=body).status_code == 422
        bad = client.post(
            "/v1/auth/password-reset/confirm", json={"token": "prp_nope", "password": NEW_PASSWORD}
        )
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "token"


class TestVerification:
    def test_signup_mails_a_link_and_verifying_flips_email_verified(
        self, client: TestClient
    ) -> None:
        email = signup(client, verify=False)
        headers = bearer(login(client, email)["access_token"])
        assert client.get("/v1/me", headers=headers).json()["email_verified"] is False
        with smtp_server() as (url, inbox), running_loop(_engine(client), smtp_url=url):
            wait_until(lambda: inbox)
        token = _token(text_part(inbox[0]), "prv_")
        assert f"/verify-email?token={token}" in text_part(inbox[0])
        verified = client.post("/v1/auth/verify-email", json={"token": token})
        assert verified.status_code == 200
        assert verified.json()["email_verified"] is True
        assert client.get("/v1/me", headers=headers).json()["email_verified"] is True
        assert client.post("/v1/auth/verify-email", json={"token": token}).status_code == 422
        resend = client.post("/v1/auth/verify-email/resend", headers=headers)
        assert resend.status_code == 409

    def test_an_unverified_account_may_not_accept_an_invitation(self, client: TestClient) -> None:
        _, owner = new_user(client, "owner")
        org = create_org(client, owner)
        email = signup(client, verify=False)
        headers = bearer(login(client, email)["access_token"])
        token = invite(client, owner, org, email)["token"]
        refused = client.post("/v1/invitations/accept", json={"token": token}, headers=headers)
        assert refused.status_code == 403
        assert refused.json()["code"] == "email_not_verified"
        # A resend voids the first link and mails a new one.
        first = _outbox_token(client, email)
        assert client.post("/v1/auth/verify-email/resend", headers=headers).status_code == 202
        second = _outbox_token(client, email)
        assert second != first
        assert client.post("/v1/auth/verify-email", json={"token": first}).status_code == 422
        assert client.post("/v1/auth/verify-email", json={"token": second}).status_code == 200
        accepted = client.post("/v1/invitations/accept", json={"token": token}, headers=headers)
        assert accepted.status_code == 200, accepted.text


def _outbox_token(client: TestClient, email: str) -> str:
    from tests.http import queued_mail

    token: str = queued_mail(client, email, "verify_email")["token"]
    return token


class TestDevMailbox:
    def test_without_smtp_mail_lands_in_the_dev_mailbox(
        self, client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        email = signup(client, verify=False)
        with running_loop(_engine(client)):
            wait_until(lambda: _mail_rows(client, "verify_email")[0][1] == "delivered")
        runner = CliRunner()
        monkeypatch.setenv("DATABASE_URL", to_libpq_url(database_url))
        get_settings.cache_clear()
        env = {"DATABASE_URL": to_libpq_url(database_url)}
        listed = runner.invoke(cli, ["mail", "list"], env=env)
        assert listed.exit_code == 0, listed.output
        assert "Verify your e-mail address" in listed.output
        with _engine(client).connect() as conn:
            mail_id = conn.execute(text("SELECT id FROM dev_mail")).scalar_one()
        shown = runner.invoke(cli, ["mail", "show", str(mail_id)], env=env)
        assert shown.exit_code == 0, shown.output
        assert f"To: {email}" in shown.output
        assert "prv_" in shown.output
        get_settings.cache_clear()

    def test_production_never_uses_the_dev_mailbox(self, client: TestClient) -> None:
        signup(client, verify=False)
        with running_loop(_engine(client), environment="production", secret_key="p" * 40):
            wait_until(lambda: _errors(client))
        assert "no SMTP server configured" in _errors(client)[0]
        with _engine(client).connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM dev_mail")).scalar() == 0


def _errors(client: TestClient) -> list[str]:
    with _engine(client).connect() as conn:
        return [
            e
            for e in conn.execute(
                text("SELECT last_error FROM outbox_messages WHERE channel = 'email'")
            ).scalars()
            if e
        ]
