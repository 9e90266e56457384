"""The dashboard over plain HTTP: headers, cookies, CSRF, tenancy, escaping, shared limits."""

from __future__ import annotations

import html
import re
import uuid

import pytest
from fastapi.testclient import TestClient

from tests.factories import connect, make_jobs
from tests.http import PASSWORD, bearer, create_org, login, make_client, new_user, unique_email
from tests.web.forms import csrf_from, post_form, web_org, web_signup

XSS = '<script>alert(1)</script><img src=x onerror="alert(2)">'
ARTICLE = "Pressroom turns articles into summaries and posts. " * 5


def _pages(org_id: str, job_id: str) -> list[str]:
    base = f"/orgs/{org_id}"
    return [
        base,
        f"{base}/jobs",
        f"{base}/jobs/new",
        f"{base}/jobs/{job_id}",
        f"{base}/jobs/{job_id}/results",
        f"{base}/jobs/{job_id}/events",
        f"{base}/members",
        f"{base}/api-keys",
        f"{base}/usage",
        f"{base}/billing",
    ]


def _submit(client: TestClient, org_id: str, **fields: str) -> str:
    data = {"kind": "summary", "format": "text", "text": ARTICLE, "priority": "0", **fields}
    response = post_form(client, f"/orgs/{org_id}/jobs/new", f"/orgs/{org_id}/jobs", data)
    assert response.status_code == 303, response.text
    return str(response.headers["location"]).rsplit("/", 1)[1]


class TestHeadersAndCookies:
    def test_every_page_has_a_strict_policy(self, client: TestClient) -> None:
        web_signup(client)
        org_id = web_org(client)
        job_id = _submit(client, org_id)
        for path in [*_pages(org_id, job_id)[1:5], "/login", "/signup", "/account", "/orgs"]:
            response = client.get(path)
            assert response.status_code == 200, path
            csp = response.headers["content-security-policy"]
            assert "script-src 'self'" in csp, path
            assert "frame-ancestors 'none'" in csp, path
            assert "unsafe-inline" not in csp
            assert response.headers["x-frame-options"] == "DENY"
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "same-origin"
            assert response.headers["cache-control"] == "no-store"
            # No inline script anywhere: every <script> names a file of ours.
            for tag in re.findall(r"<script[^>]*>", response.text):
                assert 'src="/static/' in tag, (path, tag)
            assert " on" not in "".join(re.findall(r"<[a-z]+ [^>]*\bon\w+=", response.text))

    def test_session_cookie_is_httponly_lax_and_secure_only_in_production(
        self, database_url: str
    ) -> None:
        for production in (False, True):
            settings = {"environment": "production", "secret_key": "x" * 40} if production else {}
            client, engine = make_client(database_url, **settings)
            if production:
                client.base_url = "https://testserver"  # type: ignore[assignment]  # Secure
            try:
                page = client.get("/signup")
                token = csrf_from(page.text)
                response = client.post(
                    "/signup",
                    data={"email": unique_email(), "password": PASSWORD, "csrf_token": token},
                    follow_redirects=False,
                )
                assert response.status_code == 303, response.text
                cookie = next(
                    c
                    for c in response.headers.get_list("set-cookie")
                    if c.startswith("pressroom_session=")
                )
                lowered = cookie.lower()
                assert "httponly" in lowered
                assert "samesite=lax" in lowered
                assert "path=/" in lowered
                assert ("secure" in lowered) is production
                if production:
                    assert "strict-transport-security" in response.headers
            finally:
                engine.dispose()

    def test_static_files_are_ours_and_nothing_else(self, client: TestClient) -> None:
        assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
        assert client.get("/static/app.css").status_code == 200
        assert client.get("/static/..%2Fcore.py").status_code == 404
        assert client.get("/static/nope.js").status_code == 404


class TestCsrf:
    def test_a_post_without_a_token_is_refused_and_changes_nothing(
        self, client: TestClient
    ) -> None:
        web_signup(client)
        response = client.post("/orgs", data={"name": "Forged"}, follow_redirects=False)
        assert response.status_code == 403
        assert "Forged" not in client.get("/orgs").text

    def test_a_token_from_another_session_or_origin_is_refused(self, database_url: str) -> None:
        alice, e1 = make_client(database_url)
        mallory, e2 = make_client(database_url)
        try:
            web_signup(alice)
            web_signup(mallory)
            stolen = csrf_from(mallory.get("/orgs").text)
            forged = alice.post(
                "/orgs", data={"name": "Forged", "csrf_token": stolen}, follow_redirects=False
            )
            assert forged.status_code == 403
            own = csrf_from(alice.get("/orgs").text)
            cross = alice.post(
                "/orgs",
                data={"name": "Forged", "csrf_token": own},
                headers={"Origin": "https://evil.example"},
                follow_redirects=False,
            )
            assert cross.status_code == 403
            assert "Forged" not in alice.get("/orgs").text
        finally:
            e1.dispose()
            e2.dispose()

    def test_login_form_needs_a_token_too(self, client: TestClient) -> None:
        email = unique_email()
        client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD})
        response = client.post(
            "/login", data={"email": email, "password": PASSWORD}, follow_redirects=False
        )
        assert response.status_code == 403
        assert "pressroom_session" not in response.headers.get("set-cookie", "")


class TestTenancy:
    def test_another_orgs_pages_answer_404(self, database_url: str) -> None:
        owner, e1 = make_client(database_url)
        stranger, e2 = make_client(database_url)
        try:
            web_signup(owner)
            org_id = web_org(owner)
            job_id = _submit(owner, org_id)
            web_signup(stranger)
            web_org(stranger, "Other")
            for path in _pages(org_id, job_id):
                assert stranger.get(path).status_code == 404, path
            token = csrf_from(stranger.get("/orgs").text)
            for action in ("jobs", f"jobs/{job_id}/cancel", "invitations", "api-keys"):
                response = stranger.post(
                    f"/orgs/{org_id}/{action}", data={"csrf_token": token}, follow_redirects=False
                )
                assert response.status_code == 404, action
            assert stranger.get("/orgs/not-a-uuid/jobs").status_code == 404
        finally:
            e1.dispose()
            e2.dispose()

    def test_a_member_sees_no_billing_and_no_keys(self, database_url: str) -> None:
        owner, e1 = make_client(database_url)
        member, e2 = make_client(database_url)
        try:
            web_signup(owner)
            org_id = web_org(owner)
            email = web_signup(member)
            page = post_form(
                owner,
                f"/orgs/{org_id}/members",
                f"/orgs/{org_id}/invitations",
                {"email": email, "role": "member"},
            )
            link = re.search(r'value="(http[^"]+/invitations/accept\?token=[^"]+)"', page.text)
            assert link, page.text
            path = "/invitations/accept?" + link.group(1).split("?", 1)[1]
            accepted = post_form(
                member, path, "/invitations/accept", {"token": path.split("token=")[1]}
            )
            assert accepted.headers["location"] == f"/orgs/{org_id}/jobs"
            jobs_page = member.get(f"/orgs/{org_id}/jobs")
            assert jobs_page.status_code == 200
            assert f"/orgs/{org_id}/billing" not in jobs_page.text
            assert member.get(f"/orgs/{org_id}/billing").status_code == 403
            assert member.get(f"/orgs/{org_id}/api-keys").status_code == 403
        finally:
            e1.dispose()
            e2.dispose()


class TestForms:
    def test_user_strings_are_escaped_everywhere_they_are_shown(self, client: TestClient) -> None:
        web_signup(client)
        org_id = web_org(client, XSS)
        job_id = _submit(client, org_id, title=XSS, text=ARTICLE + XSS)
        post_form(client, "/account", "/account/profile", {"display_name": "Eve" + XSS[:40]})
        for path in (f"/orgs/{org_id}/jobs/{job_id}", "/orgs", f"/orgs/{org_id}/members"):
            html = client.get(path).text
            assert "<script>alert" not in html, path
            assert "<img src=x" not in html, path
            assert "&lt;script&gt;" in html, path

    def test_a_problem_is_shown_next_to_the_field_it_names(self, client: TestClient) -> None:
        web_signup(client)
        org_id = web_org(client)
        data = {"kind": "summary", "format": "text", "text": "too short", "priority": "0"}
        response = post_form(client, f"/orgs/{org_id}/jobs/new", f"/orgs/{org_id}/jobs", data)
        assert response.status_code == 422
        assert re.search(r'id="e-text">[^<]*at least 20', response.text), response.text
        too_high = post_form(
            client,
            f"/orgs/{org_id}/jobs/new",
            f"/orgs/{org_id}/jobs",
            {**data, "text": ARTICLE, "priority": "50"},
        )
        assert too_high.status_code == 422
        assert 'id="e-priority"' in too_high.text
        weak = post_form(client, "/signup", "/signup", {"email": unique_email(), "password": "x"})
        assert weak.status_code == 422
        assert 'id="e-password"' in weak.text

    def test_an_uploaded_file_is_the_article(self, client: TestClient) -> None:
        web_signup(client)
        org_id = web_org(client)
        token = csrf_from(client.get(f"/orgs/{org_id}/jobs/new").text)
        response = client.post(
            f"/orgs/{org_id}/jobs",
            data={"csrf_token": token, "kind": "summary", "priority": "0"},
            files={"file": ("post.md", ("# Title\n\n" + ARTICLE).encode(), "text/markdown")},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        job_id = response.headers["location"].rsplit("/", 1)[1]
        org_headers = client.get(f"/orgs/{org_id}/jobs/{job_id}")
        assert org_headers.status_code == 200
        bad = client.post(
            f"/orgs/{org_id}/jobs",
            data={"csrf_token": token, "kind": "summary", "priority": "0"},
            files={"file": ("x.exe", b"MZ", "application/octet-stream")},
        )
        assert bad.status_code == 422
        assert 'id="e-file"' in bad.text


class TestSessions:
    def test_logout_everywhere_ends_api_and_cookie_sessions(self, client: TestClient) -> None:
        email = web_signup(client)
        api = bearer(login(client, email)["access_token"])
        assert client.get("/v1/me", headers=api).status_code == 200
        response = post_form(client, "/account", "/logout", {"everywhere": "1"})
        assert response.headers["location"] == "/login"
        assert client.get("/v1/me", headers=api).status_code == 401
        assert client.get("/orgs", follow_redirects=False).status_code == 303

    def test_the_account_page_lists_api_and_browser_sessions(self, client: TestClient) -> None:
        email = web_signup(client)
        login(client, email)
        page = client.get("/account").text
        rows = re.findall(r"<tr><td><time", page)
        assert len(rows) == 2
        assert page.count("(this browser)") == 1

    def test_api_logout_everywhere_ends_the_cookie_session(self, client: TestClient) -> None:
        email = web_signup(client)
        api = bearer(login(client, email)["access_token"])
        client.post("/v1/auth/logout-all", headers=api)
        response = client.get("/orgs", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")

    def test_login_limit_is_shared_with_the_api(self, database_url: str) -> None:
        client, engine = make_client(database_url, login_limit_per_account=3)
        try:
            email, _ = new_user(client)  # one API login
            for _ in range(2):
                client.post("/v1/auth/login", json={"email": email, "password": "wrong-" * 3})
            page = post_form(client, "/login", "/login", {"email": email, "password": PASSWORD})
            assert page.status_code == 429
            assert "retry-after" in page.headers
        finally:
            engine.dispose()

    def test_next_only_goes_to_this_site(self, client: TestClient) -> None:
        email = unique_email()
        client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD})
        response = post_form(
            client,
            "/login",
            "/login",
            {"email": email, "password": PASSWORD, "next": "//evil.example/x"},
        )
        assert response.headers["location"] == "/"


@pytest.mark.parametrize("path", ["/orgs", "/account", "/invitations/accept?token=x"])
def test_signed_out_pages_redirect_to_login(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_api_org_is_visible_on_the_dashboard(client: TestClient) -> None:
    """The same access path: an org made through the API is on the user's dashboard."""
    email, headers = new_user(client)
    org_id = create_org(client, headers, "Made by API")
    token = csrf_from(client.get("/login").text)
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert f"/orgs/{org_id}/jobs" in client.get("/orgs").text


def test_jobs_list_filters_and_keyset_pages(client: TestClient, database_url: str) -> None:
    web_signup(client)
    org_id = web_org(client)
    with connect(database_url) as conn:
        make_jobs(conn, uuid.UUID(org_id), 30, kind="summary")
        make_jobs(conn, uuid.UUID(org_id), 2, kind="key_points")
    first = client.get(f"/orgs/{org_id}/jobs")
    assert first.text.count('class="status status-queued"') == 25
    older = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert older, first.text
    second = client.get(html.unescape(older.group(1)))
    assert second.text.count('class="status status-queued"') == 7
    assert 'rel="next"' not in second.text
    assert "Newest jobs" in second.text
    only = client.get(f"/orgs/{org_id}/jobs?kind=key_points")
    assert only.text.count("<td>key_points</td>") == 2
    assert "<td>summary</td>" not in only.text
    none = client.get(f"/orgs/{org_id}/jobs?status=failed")
    assert "No jobs match these filters" in none.text
    assert client.get(f"/orgs/{org_id}/jobs?after=garbage").status_code == 422


def test_cancel_and_retry_from_the_job_page(client: TestClient, database_url: str) -> None:
    web_signup(client)
    org_id = web_org(client)
    job_id = _submit(client, org_id)
    page = f"/orgs/{org_id}/jobs/{job_id}"
    assert "Cancel job" in client.get(page).text
    canceled = post_form(client, page, f"{page}/cancel", {})
    assert canceled.headers["location"] == page
    after = client.get(page).text
    assert "status-canceled" in after
    assert "Cancel job" not in after
    again = post_form(client, page, f"{page}/cancel", {})
    assert again.status_code == 409  # the API's job_state_conflict, as a page
    with connect(database_url) as conn:
        conn.execute(
            "UPDATE content_jobs SET status = 'failed', error = 'boom' WHERE id = %s", (job_id,)
        )
    failed = client.get(page).text
    assert "Failed: boom" in failed
    assert "Retry job" in failed
    post_form(client, page, f"{page}/retry", {})
    assert "status-queued" in client.get(page).text
