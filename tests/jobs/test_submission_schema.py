"""POST /jobs takes a union discriminated by `kind`: OpenAPI shows each kind's input
fields (docs/generation.md), and validation follows the same schema."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from pressroom.generation.kinds import INPUT_MODELS, JobKind
from tests.http import create_org, new_user
from tests.jobs.test_api import ARTICLE


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return doc["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def test_the_job_body_is_a_oneof_per_kind_with_each_kinds_input(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/v1/orgs/{org_id}/jobs"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert body["discriminator"]["propertyName"] == "kind"
    mapping = body["discriminator"]["mapping"]
    assert set(mapping) == {k.value for k in JobKind}
    assert len(body["oneOf"]) == len(JobKind)
    for kind, ref in mapping.items():
        variant = _resolve(doc, {"$ref": ref})
        assert variant["properties"]["kind"]["const"] == kind
        assert set(variant["required"]) == {"kind", "input"}
        assert "priority" in variant["properties"]
        assert variant.get("additionalProperties") is False
        input_schema = _resolve(doc, variant["properties"]["input"])
        # Each kind's own fields, not a free-form object.
        expected = set(INPUT_MODELS[JobKind(kind)].model_fields)
        assert set(input_schema["properties"]) == expected, kind
    seo_input = _resolve(doc, _resolve(doc, {"$ref": mapping["seo"]})["properties"]["input"])
    assert {"keywords", "titles", "text"} <= set(seo_input["properties"])
    assert "networks" not in seo_input["properties"]


def test_an_option_of_another_kind_is_refused_naming_the_field(client: TestClient) -> None:
    _, auth = new_user(client)
    org = create_org(client, auth)
    response = client.post(
        f"/v1/orgs/{org}/jobs",
        json={"kind": "summary", "input": {"text": ARTICLE, "networks": ["x"]}},
        headers=auth,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "input.networks"
    response = client.post(
        f"/v1/orgs/{org}/jobs",
        json={"kind": "key_points", "input": {"text": ARTICLE, "points": 50}},
        headers=auth,
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("input.points:")
    response = client.post(f"/v1/orgs/{org}/jobs", json={"input": {"text": ARTICLE}}, headers=auth)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "kind"
