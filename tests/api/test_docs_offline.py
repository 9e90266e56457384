"""/docs and /redoc render with no internet: every script, style sheet and icon they load
is served by the app itself."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


@pytest.mark.parametrize(
    ("page", "expected_types"),
    [
        ("/docs", {"javascript", "css", "image"}),
        ("/redoc", {"javascript", "image"}),
    ],
)
def test_docs_pages_load_only_local_assets(
    client: TestClient, page: str, expected_types: set[str]
) -> None:
    response = client.get(page)
    assert response.status_code == 200
    html = response.text
    assert "http://" not in html
    assert "https://" not in html
    parser = _Assets()
    parser.feed(html)
    assert parser.urls, "the page loads no assets at all?"
    served_types = set()
    for url in parser.urls:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
        served_types |= {t for t in expected_types if t in asset.headers["content-type"]}
    assert served_types == expected_types
    # The page points at this app's OpenAPI document, which is served too.
    assert "/openapi.json" in html
    assert client.get("/openapi.json").json()["info"]["title"] == "Pressroom"
