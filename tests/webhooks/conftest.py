from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.http import client, create_org, make_client, new_user
from tests.outbound import Receiver

__all__ = ["client"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def production_client(database_url: str) -> Iterator[TestClient]:
    test_client, engine = make_client(database_url, environment="production", secret_key="p" * 40)
    yield test_client
    engine.dispose()


def owner_org(client: TestClient) -> tuple[dict[str, str], str]:
    _, headers = new_user(client, "owner")
    return headers, create_org(client, headers)


def add_endpoint(
    client: TestClient, headers: dict[str, str], org_id: str, url: str, **fields: Any
) -> dict[str, Any]:
    response = client.post(
        f"/v1/orgs/{org_id}/webhook-endpoints", json={"url": url, **fields}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
