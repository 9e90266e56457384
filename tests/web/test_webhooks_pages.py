"""The webhook endpoint pages over plain HTTP (no browser): CSRF on every form, the API's
permission and tenancy answers, escaping, the secret shown once, inline errors, and the
delivery log fed by the real delivery loop; and the dev mailbox page (404 in production)."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from pressroom.web.pages import webhooks as webhook_pages
from tests.http import PASSWORD, make_client, unique_email
from tests.outbound import Receiver, running_loop, wait_until
from tests.web.forms import csrf_from, post_form, web_org, web_signup

XSS = '<script>alert(1)</script><img src=x onerror="alert(2)">'
SECRET = re.compile(r'value="(whsec_[^"]+)"')


def _create(client: TestClient, org_id: str, url: str, **fields: Any) -> Any:
    page = f"/orgs/{org_id}/webhooks"
    return post_form(client, page, page, {"url": url, **fields})


def _endpoint(client: TestClient, org_id: str, url: str = "http://127.0.0.1:9/hook") -> str:
    """A new endpoint of `org_id`, made through the create form: its id."""
    created = _create(client, org_id, url)
    assert created.status_code == 200, created.text
    match = re.search(rf"/orgs/{org_id}/webhooks/([0-9a-f-]{{36}})/test", created.text)
    assert match, created.text
    return match.group(1)


def _forms(org_id: str, endpoint_id: str) -> list[str]:
    """Every form action of the webhook pages."""
    base = f"/orgs/{org_id}/webhooks"
    one = f"{base}/{endpoint_id}"
    return [
        base,
        one,
        f"{one}/rotate-secret",
        f"{one}/test",
        f"{one}/delete",
        f"{one}/deliveries/{uuid.uuid4()}/retry",
    ]


def _shown(client: TestClient, org_id: str, endpoint_id: str) -> Any:
    """The endpoint's page: what it shows of the endpoint and its log."""
    page = client.get(f"/orgs/{org_id}/webhooks/{endpoint_id}")
    assert page.status_code == 200, page.text
    return page.text


def _page_with(client: TestClient, path: str, needle: str) -> str | None:
    """The page at `path` once it shows `needle` (else None: wait_until asks again)."""
    page = client.get(path).text
    return page if needle in page else None


@pytest.fixture
def owner(client: TestClient) -> tuple[TestClient, str]:
    web_signup(client)
    return client, web_org(client)


@pytest.fixture
def stranger(database_url: str) -> Iterator[TestClient]:
    other, engine = make_client(database_url)
    web_signup(other)
    web_org(other, "Other")
    yield other
    engine.dispose()


class TestCsrf:
    def test_every_form_needs_a_token_and_a_refused_one_changes_nothing(
        self, owner: tuple[TestClient, str]
    ) -> None:
        client, org_id = owner
        endpoint_id = _endpoint(client, org_id)
        before = _shown(client, org_id, endpoint_id)
        for action in _forms(org_id, endpoint_id):
            data = {"url": "http://127.0.0.1:9/forged", "description": "Forged"}
            response = client.post(action, data=data, follow_redirects=False)
            assert response.status_code == 403, action
        assert _shown(client, org_id, endpoint_id) == before
        listed = client.get(f"/orgs/{org_id}/webhooks").text
        assert "Forged" not in listed
        assert listed.count(f"/orgs/{org_id}/webhooks/") == 1


class TestAccess:
    def test_a_member_gets_the_apis_403_and_no_link(
        self, owner: tuple[TestClient, str], database_url: str
    ) -> None:
        client, org_id = owner
        endpoint_id = _endpoint(client, org_id)
        assert f'href="/orgs/{org_id}/webhooks"' in client.get(f"/orgs/{org_id}/jobs").text
        member, engine = make_client(database_url)
        try:
            email = web_signup(member)
            page = post_form(
                client,
                f"/orgs/{org_id}/members",
                f"/orgs/{org_id}/invitations",
                {"email": email, "role": "member"},
            )
            token = re.search(r"/invitations/accept\?token=([^\"&]+)", page.text)
            assert token, page.text
            accept = f"/invitations/accept?token={token.group(1)}"
            post_form(member, accept, "/invitations/accept", {"token": token.group(1)})
            jobs_page = member.get(f"/orgs/{org_id}/jobs")
            assert jobs_page.status_code == 200
            assert f"/orgs/{org_id}/webhooks" not in jobs_page.text
            for path in (f"/orgs/{org_id}/webhooks", f"/orgs/{org_id}/webhooks/{endpoint_id}"):
                assert member.get(path).status_code == 403, path
            csrf = csrf_from(jobs_page.text)
            for action in _forms(org_id, endpoint_id):
                response = member.post(
                    action,
                    data={"csrf_token": csrf, "url": "http://127.0.0.1:9/m"},
                    follow_redirects=False,
                )
                assert response.status_code == 403, action
        finally:
            engine.dispose()

    def test_another_orgs_pages_and_forms_answer_404(
        self, owner: tuple[TestClient, str], stranger: TestClient
    ) -> None:
        client, org_id = owner
        endpoint_id = _endpoint(client, org_id)
        before = _shown(client, org_id, endpoint_id)
        for path in (f"/orgs/{org_id}/webhooks", f"/orgs/{org_id}/webhooks/{endpoint_id}"):
            response = stranger.get(path)
            assert response.status_code == 404, path
            assert "127.0.0.1:9" not in response.text
        csrf = csrf_from(stranger.get("/orgs").text)
        for action in _forms(org_id, endpoint_id):
            response = stranger.post(
                action,
                data={"csrf_token": csrf, "url": "http://x.example/"},
                follow_redirects=False,
            )
            assert response.status_code == 404, action
        # A's endpoint through the stranger's own org is no more found.
        own = re.search(r'href="/orgs/([0-9a-f-]{36})/jobs"', stranger.get("/orgs").text)
        assert own
        assert stranger.get(f"/orgs/{own.group(1)}/webhooks/{endpoint_id}").status_code == 404
        assert _shown(client, org_id, endpoint_id) == before


class TestForms:
    def test_description_and_url_are_escaped(self, owner: tuple[TestClient, str]) -> None:
        client, org_id = owner
        url = "http://127.0.0.1:9/hook?q=" + XSS.replace(" ", "%20")
        created = _create(client, org_id, url, description="CI " + XSS)
        assert created.status_code == 200, created.text
        for page in (created.text, client.get(f"/orgs/{org_id}/webhooks").text):
            assert "<script>alert(1)" not in page
            assert "<img src=x" not in page
            assert str(escape("CI " + XSS)) in page
            assert str(escape(url)) in page

    def test_the_secret_is_shown_once_after_create_and_after_rotate(
        self, owner: tuple[TestClient, str]
    ) -> None:
        client, org_id = owner
        created = _create(client, org_id, "http://127.0.0.1:9/hook", event_types="job.failed")
        first = SECRET.search(created.text)
        assert first, created.text
        endpoint_id = _endpoint(client, org_id)  # a second one, to rotate
        path = f"/orgs/{org_id}/webhooks/{endpoint_id}"
        rotated = post_form(client, path, f"{path}/rotate-secret", {})
        assert rotated.status_code == 200, rotated.text
        second = SECRET.search(rotated.text)
        assert second
        assert second.group(1) != first.group(1)
        assert "The previous one also signs until" in rotated.text
        for later in (path, f"/orgs/{org_id}/webhooks"):
            assert "whsec_" not in client.get(later).text, later

    def test_create_edit_and_delete(self, owner: tuple[TestClient, str]) -> None:
        client, org_id = owner
        created = _create(
            client,
            org_id,
            "http://127.0.0.1:9/hook",
            event_types=["job.failed", "usage.threshold"],
            description="First",
        )
        assert created.status_code == 200
        assert re.search(r'value="job.failed" checked', created.text)
        assert not re.search(r'value="job.succeeded" checked', created.text)
        endpoint_id = _endpoint(client, org_id, "http://127.0.0.1:9/other")
        path = f"/orgs/{org_id}/webhooks/{endpoint_id}"
        # No box ticked: every event, and "enabled" unticked: disabled.
        saved = post_form(
            client, path, path, {"url": "http://127.0.0.1:9/moved", "description": ""}
        )
        assert saved.status_code == 303, saved.text
        page = client.get(path).text
        assert "http://127.0.0.1:9/moved" in page
        assert "<dd>disabled</dd>" in page
        assert 'name="enabled" value="on">' in page
        deleted = post_form(client, path, f"{path}/delete", {})
        assert deleted.headers["location"] == f"/orgs/{org_id}/webhooks"
        assert client.get(path).status_code == 404
        assert "First" in client.get(f"/orgs/{org_id}/webhooks").text

    def test_problems_are_shown_next_to_their_field(self, owner: tuple[TestClient, str]) -> None:
        client, org_id = owner
        bad = _create(client, org_id, "ftp://files.example/x")
        assert bad.status_code == 422
        assert re.search(r'id="e-url">must be an http\(s\) URL with a host<', bad.text)
        assert 'aria-invalid="true" aria-describedby="e-url"' in bad.text
        assert 'value="ftp://files.example/x"' in bad.text  # the form keeps what was typed
        unknown = _create(client, org_id, "http://127.0.0.1:9/hook", event_types="job.exploded")
        assert unknown.status_code == 422
        assert 'id="e-event_types"' in unknown.text
        endpoint_id = _endpoint(client, org_id)
        path = f"/orgs/{org_id}/webhooks/{endpoint_id}"
        edit = post_form(client, path, path, {"url": "http://user:pw@host.example/"})
        assert edit.status_code == 422
        assert 'id="e-url">must not carry credentials' in edit.text
        assert "No webhook endpoint" not in client.get(f"/orgs/{org_id}/webhooks").text
        after = client.get(f"{path}?after=not-a-cursor")
        assert after.status_code == 422

    def test_production_refuses_a_loopback_url_inline(self, database_url: str) -> None:
        client, engine = make_client(database_url, environment="production", secret_key="p" * 40)
        client.base_url = "https://testserver"  # type: ignore[assignment]  # Secure cookies
        try:
            web_signup(client)
            org_id = web_org(client)
            refused = _create(client, org_id, "https://127.0.0.1/hook")
            assert refused.status_code == 422
            assert 'id="e-url">must not point to a private, loopback or link-local address<' in (
                refused.text
            )
            assert "No endpoints yet." in refused.text  # nothing was stored
        finally:
            engine.dispose()


class TestDeliveryLog:
    def test_a_ping_shows_in_the_log_and_a_retry_sends_it_again(
        self, owner: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        client, org_id = owner
        receiver = Receiver().start()
        try:
            endpoint_id = _endpoint(client, org_id, receiver.url)
            path = f"/orgs/{org_id}/webhooks/{endpoint_id}"
            pinged = post_form(client, path, f"{path}/test", {})
            assert pinged.status_code == 303
            assert re.fullmatch(rf"{path}\?pinged=[0-9a-f-]{{36}}", pinged.headers["location"])
            assert "Test ping queued" in client.get(pinged.headers["location"]).text
            with running_loop(client.app.state.engine):  # type: ignore[attr-defined]
                wait_until(lambda: len(receiver.received) == 1)
                page = wait_until(lambda: _page_with(client, path, "<td>delivered</td>"))
                assert re.search(r'<td class="status-code">204</td>', page)
                assert "ping" in page
                delivery = re.search(rf'action="{path}/deliveries/([0-9a-f-]{{36}})/retry"', page)
                assert delivery
                retried = post_form(
                    client, path, f"{path}/deliveries/{delivery.group(1)}/retry", {}
                )
                assert retried.status_code == 303
                wait_until(lambda: len(receiver.received) == 2)
                wait_until(lambda: client.get(path).text.count("<td>delivered</td>") == 2)
            ids = {r.headers["webhook-id"] for r in receiver.received}
            assert len(ids) == 1  # the same event, sent again
            # One attempt a page: the older one is one "Older attempts" link away.
            monkeypatch.setattr(webhook_pages, "LOG_LIMIT", 1)
            first = client.get(path).text
            older = re.search(r'href="([^"]+\?after=[0-9a-f-]{36})" rel="next"', first)
            assert older, first
            second = client.get(html.unescape(older.group(1))).text
            assert "Newest attempts" in second
            assert 'rel="next"' not in second
            assert re.search(r"<td>2</td>", first)
            assert re.search(r"<td>1</td>", second)
        finally:
            receiver.stop()


class TestDevMailbox:
    def test_mail_delivered_without_smtp_is_readable_and_its_links_open(
        self, client: TestClient
    ) -> None:
        assert client.get("/dev/mail", follow_redirects=False).status_code == 303  # log in
        email = web_signup(client, verify=False)
        assert 'href="/dev/mail"' in client.get("/orgs").text
        with running_loop(client.app.state.engine):  # type: ignore[attr-defined]
            listed = wait_until(lambda: _page_with(client, "/dev/mail", email))
        link = re.search(r'href="(/dev/mail/[0-9a-f-]{36})">Verify your e-mail address<', listed)
        assert link, listed
        shown = client.get(link.group(1))
        assert shown.status_code == 200
        frame = re.search(
            r'<iframe class="rendered mail" sandbox="([^"]*)"[^>]*srcdoc="([^"]*)"', shown.text
        )
        assert frame, shown.text
        assert "allow-scripts" not in frame.group(1)
        assert "allow-same-origin" not in frame.group(1)
        srcdoc = html.unescape(frame.group(2))
        assert srcdoc.startswith('<base target="_blank">')
        assert re.search(r'<a href="http://[^"]+/verify-email\?token=prv_', srcdoc)
        assert "/verify-email?token=prv_" in shown.text  # the text part too
        assert client.get(f"/dev/mail/{uuid.uuid4()}").status_code == 404

    def test_production_answers_404_signed_in_or_not(self, database_url: str) -> None:
        client, engine = make_client(database_url, environment="production", secret_key="p" * 40)
        client.base_url = "https://testserver"  # type: ignore[assignment]
        try:
            for path in ("/dev/mail", f"/dev/mail/{uuid.uuid4()}"):
                assert client.get(path, follow_redirects=False).status_code == 404, path
            token = csrf_from(client.get("/signup").text)
            client.post(
                "/signup",
                data={"email": unique_email(), "password": PASSWORD, "csrf_token": token},
            )
            assert 'href="/dev/mail"' not in client.get("/orgs").text
            assert client.get("/dev/mail").status_code == 404
        finally:
            engine.dispose()
