"""A body that is not JSON is the request's fault as a whole: 400 `malformed_request`,
not a 422 pointing at a character offset (docs/api.md, Errors)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.http import create_org, new_user


@pytest.mark.parametrize("body", ['{"email": "ada@example.com",', "not json", "{'a': 1}", "\xff"])
def test_a_body_that_is_not_json_is_400_malformed_request(client: TestClient, body: str) -> None:
    response = client.post(
        "/v1/auth/signup", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "malformed_request"
    assert problem["status"] == 400
    assert "errors" not in problem


def test_valid_json_of_the_wrong_shape_is_still_422_naming_the_field(client: TestClient) -> None:
    response = client.post("/v1/auth/signup", json={"email": "ada@example.com"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "password"


def test_a_truncated_job_body_is_malformed_and_queues_nothing(client: TestClient) -> None:
    _, headers = new_user(client)
    org = create_org(client, headers)
    response = client.post(
        f"/v1/orgs/{org}/jobs",
        content=b'{"kind": "summary", "input": {"text": "',
        headers={**headers, "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    assert client.get(f"/v1/orgs/{org}/jobs", headers=headers).json()["items"] == []
