from __future__ import annotations

import json

from typer.testing import CliRunner

from pressroom.cli import app
from pressroom.config import get_settings
from tests.generation.conftest import FIXTURES
from tests.generation.fake_openai import completion

runner = CliRunner()


class TestGenerateCommand:
    def test_prints_every_artifact(self) -> None:
        result = runner.invoke(
            app, ["generate", "--kind", "full_pack", str(FIXTURES / "heat_pumps.md")]
        )
        assert result.exit_code == 0, result.output
        for label in ("summary", "key_points", "keywords", "meta_description", "stats"):
            assert label in result.output
        assert "social_post (bluesky:" in result.output

    def test_json_output_with_format_from_extension(self) -> None:
        path = str(FIXTURES / "sourdough.html")
        result = runner.invoke(app, ["generate", "--kind", "seo", "--json", path])
        assert result.exit_code == 0, result.output
        body = json.loads(result.stdout)
        assert body["engine"] == "builtin"
        assert [a["type"] for a in body["artifacts"]] == [
            "meta_description",
            "keywords",
            "title_suggestions",
        ]
        assert "starter" in json.loads(body["artifacts"][1]["content"])

    def test_unusable_input_exits_2_with_a_message(self, tmp_path) -> None:
        path = tmp_path / "noise.txt"
        path.write_text("%%%% #### $$$$ @@@@ !!!! ^^^^ &&&& ****")
        result = runner.invoke(app, ["generate", str(path)])
        assert result.exit_code == 2
        assert "error:" in result.output

    def test_invalid_option_names_the_field(self, tmp_path) -> None:
        path = tmp_path / "short.txt"
        path.write_text("short")
        result = runner.invoke(app, ["generate", "--kind", "summary", str(path)])
        assert result.exit_code == 2
        assert "text:" in result.output


class TestOpenAIEngineJson:
    def test_json_prints_only_json_on_stdout(self, fake_openai, monkeypatch) -> None:
        fake, base_url = fake_openai
        answer = {"summary": "Heat pumps are spreading through small towns."}
        fake.script = [completion(json.dumps(answer))]
        monkeypatch.setenv("PRESSROOM_OPENAI_BASE_URL", base_url)
        monkeypatch.setenv("PRESSROOM_OPENAI_MODEL", "fake-model")
        get_settings.cache_clear()
        try:
            result = runner.invoke(
                app,
                ["generate", "--engine", "openai", "--kind", "summary", "--json",
                 str(FIXTURES / "heat_pumps.md")],
            )  # fmt: skip
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 0, result.output
        body = json.loads(result.stdout)  # the whole of stdout is the JSON document
        assert body["engine"] == "openai"
        assert body["usage"]["prompt_tokens"] == 321
