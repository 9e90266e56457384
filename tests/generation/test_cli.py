from __future__ import annotations

import json

from typer.testing import CliRunner

from pressroom.cli import app
from tests.generation.conftest import FIXTURES

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
