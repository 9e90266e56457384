from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from pressroom.generation.base import GenerationRequest
from pressroom.generation.errors import InputError
from pressroom.generation.kinds import (
    ARTIFACT_TYPES_BY_KIND,
    INPUT_MODELS,
    TEXT_MAX_CHARS,
    ArtifactType,
    JobKind,
    JobSpec,
    Network,
    SourceFormat,
    parse_input,
)

TEXT = "A perfectly ordinary paragraph about gardening in small backyards."


class TestInputValidation:
    def test_defaults(self) -> None:
        data = parse_input("full_pack", {"text": TEXT})
        assert data.format == SourceFormat.TEXT
        assert data.language == "en"
        assert list(data.networks) == list(Network)  # type: ignore[attr-defined]

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({"text": "too short"}, "text"),
            ({"text": " " * 50 + "short" + " " * 50}, "text"),
            ({"text": "x" * (TEXT_MAX_CHARS + 1)}, "text"),
            ({"text": TEXT, "format": "docx"}, "format"),
            ({"text": TEXT + "\x00"}, "text"),
            ({"text": TEXT, "language": "english"}, "language"),
            ({"text": TEXT, "colour": "blue"}, "colour"),
        ],
    )
    def test_rejects_bad_input_naming_the_field(self, payload: dict[str, str], field: str) -> None:
        with pytest.raises(ValidationError) as info:
            parse_input("summary", payload)
        assert info.value.errors()[0]["loc"][-1] == field or field in str(
            info.value.errors()[0]["loc"]
        )

    def test_options_belong_to_their_kind(self) -> None:
        with pytest.raises(ValidationError):
            parse_input("summary", {"text": TEXT, "networks": ["twitter"]})
        assert parse_input("social_posts", {"text": TEXT, "networks": ["twitter"]})

    def test_x_is_twitter_and_networks_are_deduplicated(self) -> None:
        data = parse_input("social_posts", {"text": TEXT, "networks": ["x", "twitter", "bluesky"]})
        assert data.networks == [Network.TWITTER, Network.BLUESKY]  # type: ignore[attr-defined]

    def test_unknown_network_rejected(self) -> None:
        with pytest.raises(ValidationError):
            parse_input("social_posts", {"text": TEXT, "networks": ["myspace"]})

    def test_unknown_kind_rejected(self) -> None:
        with pytest.raises(ValidationError):
            parse_input("poem", {"text": TEXT})


class TestJobSpec:
    def test_discriminated_by_kind(self) -> None:
        spec = TypeAdapter(JobSpec).validate_python(
            {"kind": "seo", "input": {"text": TEXT, "keywords": 4}}
        )
        assert spec.kind == JobKind.SEO
        assert spec.input.keywords == 4

    def test_every_kind_has_a_model_and_artifacts(self) -> None:
        assert set(INPUT_MODELS) == set(JobKind) == set(ARTIFACT_TYPES_BY_KIND)
        assert set(ARTIFACT_TYPES_BY_KIND[JobKind.FULL_PACK]) == set(ArtifactType)


class TestFromJob:
    def test_stored_bad_input_is_an_input_error(self) -> None:
        with pytest.raises(InputError) as info:
            GenerationRequest.from_job("summary", {"text": "tiny"})
        assert info.value.field == "input.text"

    def test_valid_job(self) -> None:
        request = GenerationRequest.from_job("key_points", {"text": TEXT, "points": 3})
        assert request.kind == JobKind.KEY_POINTS
