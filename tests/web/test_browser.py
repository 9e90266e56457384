"""The dashboard in headless Chromium: a person's whole route, and the attacks on it.

`make screenshots` runs the walk with PRESSROOM_SCREENSHOTS=docs/screenshots, which saves
each main page as it goes.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.http import PASSWORD, unique_email
from tests.outbound import Receiver
from tests.web.browser import Dashboard

pytestmark = pytest.mark.browser

XSS = '<script>window.pwned=1;alert(1)</script><img src=x onerror="window.pwned=2;alert(2)">'
ARTICLE = """# Why local newsrooms still matter

Local newsrooms cover the meetings nobody else attends. When a city council votes on a
budget, a reporter in the room is often the only record the public will ever see.

Research on closures shows that towns which lose their paper see lower turnout in local
elections and higher borrowing costs for public projects. Accountability costs money.

New models are emerging. Nonprofit newsrooms, membership programs and shared printing
let small teams keep reporting. Readers who pay tend to stay when the coverage is useful.

The lesson is simple: people support the journalism that helps them run their lives.
"""


class Pages:
    """A browser tab that fails the test on any script error or dialog (an injected alert)."""

    def __init__(self, context: Any, base: str, shots: Path | None) -> None:
        self.page = context.new_page()
        self.base = base
        self.shots = shots
        self.problems: list[str] = []
        self.page.on(
            "dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss())
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))

    def go(self, path: str) -> Any:
        return self.page.goto(self.base + path)

    def shot(self, name: str) -> None:
        if self.shots is not None:
            self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def signup(self, email: str) -> None:
        self.go("/signup")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign up").click()
        self.page.wait_for_url(re.compile(r"/orgs$"))


def _until(pages: Pages, path: str, locator: str, timeout: float = 20.0) -> Any:
    """Open `path` until it shows `locator` (what the worker delivers arrives in a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        pages.go(path)
        found = pages.page.locator(locator)
        if found.count() or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP endpoint on loopback (development lets webhooks call it)."""
    r = Receiver().start()
    r.mode = "ok-200"
    yield r
    r.stop()


def _shots() -> Path | None:
    target = os.environ.get("PRESSROOM_SCREENSHOTS")
    if not target:
        return None
    path = Path(target)
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_the_whole_route(dashboard: Dashboard, browser: Any, receiver: Receiver) -> None:
    shots = _shots()
    owner = Pages(
        browser.new_context(viewport={"width": 1100, "height": 900}), dashboard.url, shots
    )
    page = owner.page
    owner.go("/signup")
    owner.shot("signup")
    # The keyboard reaches the skip link first, then the fields, and focus is visible.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-email"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
    owner.signup(unique_email("owner"))

    page.get_by_label("Name").fill("Acme Daily")
    page.get_by_role("button", name="Create organization").click()
    page.wait_for_url(re.compile(r"/orgs/[0-9a-f-]+/jobs$"))
    org_path = page.url.removeprefix(dashboard.url).removesuffix("/jobs")

    page.get_by_role("link", name="New job").click()
    page.get_by_label("Kind").select_option("full_pack")
    page.get_by_label("Format of the pasted text").select_option("markdown")
    page.get_by_label("Title (optional)").fill("Local news " + XSS)
    page.get_by_label("Article").fill(ARTICLE + "\n\n" + XSS)
    owner.shot("job-new")
    page.get_by_role("button", name="Submit job").click()
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+$"))

    # The same document all along: the page follows the job without a reload.
    page.evaluate("window.sameDocument = true")
    page.wait_for_selector("#job[data-done=true]", timeout=30_000)
    assert page.evaluate("window.sameDocument") is True
    assert page.locator("#job-status").inner_text() == "succeeded"
    for kind in (
        "summary",
        "key_points",
        "keywords",
        "title_suggestions",
        "meta_description",
        "social_post",
        "rendered_html",
        "stats",
    ):
        assert page.locator(f'.artifact[data-type="{kind}"]').count() == 1, kind
    assert re.search(
        r"\d+ / 155 characters", page.locator('[data-type="meta_description"]').inner_text()
    )
    posts = page.locator(".post")
    assert posts.count() == 5
    assert re.search(r"\d+ / 280", page.locator(".post", has_text="twitter").inner_text())
    frame = page.locator("iframe.rendered")
    assert frame.get_attribute("sandbox") == ""
    assert "Local newsrooms" in page.frame_locator("iframe.rendered").locator("body").inner_text()
    frame.scroll_into_view_if_needed()
    owner.shot("job")
    if shots is not None:
        frame.screenshot(path=str(shots / "job-frame.png"))

    # Injected markup is text on the page and inert in the frame.
    page.reload()
    assert "<script>window.pwned" in page.locator("h1").inner_text()
    assert page.evaluate("window.pwned") is None
    for child in page.frames[1:]:
        assert child.evaluate("typeof window.pwned") == "undefined"

    owner.go(f"{org_path}/jobs")
    owner.shot("jobs")
    owner.go(f"{org_path}/usage")
    assert page.locator("svg.chart").count() == 1
    owner.shot("usage")

    owner.go(f"{org_path}/api-keys")
    page.get_by_label("Name").fill("ci " + XSS)
    page.get_by_role("button", name="Create key").click()
    assert page.locator("#new-key").input_value().startswith("prk_")
    owner.shot("api-keys")

    member_email = unique_email("member")
    owner.go(f"{org_path}/members")
    page.get_by_label("Email").fill(member_email)
    page.get_by_role("button", name="Invite").click()
    link = page.locator("#invite-link").input_value()
    assert "/invitations/accept?token=" in link
    owner.shot("members")
    owner.go(f"{org_path}/billing")
    owner.shot("billing")

    # A webhook endpoint at a real receiver: the secret once, then a signed ping it answers.
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("job.succeeded").check()
    page.get_by_label("Description (optional)").fill("CI " + XSS)
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator("#new-secret").input_value()
    assert secret.startswith("whsec_")
    receiver.secrets.append(secret)
    page.get_by_role("button", name="Send test ping").click()
    page.wait_for_url(re.compile(r"/webhooks/[0-9a-f-]+\?pinged="))
    endpoint_path = page.url.removeprefix(dashboard.url).split("?")[0]
    status = _until(owner, endpoint_path, "td.status-code")
    assert status.first.inner_text() == "200"
    assert "ping" in page.locator("tbody tr").first.locator("td").first.inner_text()
    assert [r.payload["type"] for r in receiver.verified()] == ["ping"]
    assert page.locator("#new-secret").count() == 0  # shown once, not on a later visit
    owner.shot("webhooks")

    member = Pages(browser.new_context(viewport={"width": 390, "height": 844}), dashboard.url, None)
    # The link, opened signed out: log in or create the account, then back to accept.
    member.page.goto(link)
    member.page.get_by_role("link", name="Create an account").click()
    member.page.get_by_label("Email").fill(member_email)
    member.page.get_by_label("Password").fill(PASSWORD)
    member.page.get_by_role("button", name="Sign up").click()
    member.page.wait_for_url(re.compile(r"/invitations/accept\?token="))
    # Only a verified address may join an org: the verification e-mail first, read in the
    # dev mailbox (the worker delivered it there) and its link followed from the message.
    member.page.get_by_role("link", name="Dev mailbox").click()
    mail = _until(member, "/dev/mail", f'tr:has-text("{member_email}") >> text=Verify your')
    mail.click()
    frame = member.page.frame_locator("iframe.mail")
    with member.page.context.expect_page() as opened:
        frame.get_by_role("link", name="verify my e-mail address").click()
    verify = opened.value
    verify.wait_for_load_state()
    assert verify.url.startswith(dashboard.url + "/verify-email?token=")
    verify.get_by_role("button", name="Verify").click()
    verify.wait_for_url(re.compile(r"/account"))
    verify.close()
    owner.go("/dev/mail")
    owner.shot("mailbox")
    member.page.goto(link)
    member.page.get_by_role("button", name="Accept invitation").click()
    member.page.wait_for_url(re.compile(r"/jobs$"))
    assert member.page.get_by_role("link", name="Billing").count() == 0
    denied = member.go(f"{org_path}/billing")
    assert denied.status == 403
    if shots is not None:
        member.go(f"{org_path}/jobs")
        member.page.screenshot(path=str(shots / "jobs-phone.png"), full_page=True)

    assert owner.problems == []
    assert member.problems == []


def test_a_cross_site_form_changes_nothing(dashboard: Dashboard, browser: Any) -> None:
    context = browser.new_context()
    victim = Pages(context, dashboard.url, None)
    victim.signup(unique_email("victim"))
    attacker = context.new_page()
    # A page elsewhere (about:blank is another origin) posting to the dashboard.
    attacker.set_content(
        f'<form method="post" action="{dashboard.url}/orgs">'
        '<input name="name" value="Forged"><input name="csrf_token" value="guess">'
        "<button>go</button></form>"
    )
    attacker.click("button")
    attacker.wait_for_load_state()
    victim.go("/orgs")
    assert "Forged" not in victim.page.content()


def test_another_orgs_pages_are_not_found(dashboard: Dashboard, browser: Any) -> None:
    owner = Pages(browser.new_context(), dashboard.url, None)
    owner.signup(unique_email("owner"))
    owner.page.get_by_label("Name").fill("Private")
    owner.page.get_by_role("button", name="Create organization").click()
    owner.page.wait_for_url(re.compile(r"/jobs$"))
    org_path = owner.page.url.removeprefix(dashboard.url).removesuffix("/jobs")
    stranger = Pages(browser.new_context(), dashboard.url, None)
    stranger.signup(unique_email("stranger"))
    for suffix in ("/jobs", "/jobs/new", "/members", "/api-keys", "/usage", "/billing"):
        response = stranger.go(org_path + suffix)
        assert response.status == 404, suffix
        assert "Private" not in stranger.page.content()
