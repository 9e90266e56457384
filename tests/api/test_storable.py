"""Text PostgreSQL cannot store (NUL, lone surrogates) is refused with a 422 naming the
field, wherever it comes from: query string, header, JSON body."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.http import create_org, new_user


def _assert_names(response: object, field: str, where: str) -> None:
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["code"] == "invalid_input"
    assert body["errors"][0]["field"] == field
    assert body["errors"][0]["in"] == where


class TestUnstorableText:
    def test_nul_in_a_query_filter(self, client: TestClient) -> None:
        _, headers = new_user(client)
        org_id = create_org(client, headers)
        response = client.get(f"/v1/orgs/{org_id}/jobs?kind=%00", headers=headers)
        _assert_names(response, "kind", "query")
        job = "00000000-0000-0000-0000-000000000000"
        response = client.get(f"/v1/orgs/{org_id}/jobs/{job}/artifacts?type=a%00", headers=headers)
        _assert_names(response, "type", "query")

    def test_nul_in_a_header(self, client: TestClient) -> None:
        _, headers = new_user(client)
        org_id = create_org(client, headers)
        response = client.post(
            f"/v1/orgs/{org_id}/jobs",
            json={"kind": "summary", "input": {"text": "words " * 20}},
            headers={**headers, "Idempotency-Key": "key\x00"},
        )
        _assert_names(response, "idempotency-key", "header")

    def test_nul_and_lone_surrogates_in_a_json_body(self, client: TestClient) -> None:
        for escape in ("\\u0000", "\\ud800"):
            raw = '{"email": "a@example.com", "password": "pass' + escape + 'word-long"}'
            response = client.post(
                "/v1/auth/signup", content=raw, headers={"Content-Type": "application/json"}
            )
            _assert_names(response, "password", "body")

    def test_a_nul_nested_in_job_input_names_its_path(self, client: TestClient) -> None:
        _, headers = new_user(client)
        org_id = create_org(client, headers)
        raw = '{"kind": "summary", "input": {"text": "a\\u0000b"}}'
        response = client.post(
            f"/v1/orgs/{org_id}/jobs",
            content=raw,
            headers={**headers, "Content-Type": "application/json"},
        )
        _assert_names(response, "input.text", "body")
