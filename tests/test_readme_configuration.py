"""The README's configuration table names exactly the environment variables the code
reads: every setting, and nothing that is not one."""

from __future__ import annotations

import re
from pathlib import Path

from pressroom.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def _variables_of_settings() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        names |= set(map(str, choices)) if choices else {f"PRESSROOM_{name.upper()}"}
    return names


def _variables_of_the_table() -> set[str]:
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    found = set()
    for row in re.findall(r"^\| (.*?) \| .* \| .* \|$", section, re.MULTILINE):
        names = re.findall(r"`([A-Z_]+\*?)`", row)
        suffixes = [n for n in names if n.startswith("_")]
        for name in names:
            if name.endswith("_*"):  # PRESSROOM_OPENAI_* followed by its suffixes
                found |= {name[:-2] + suffix for suffix in suffixes}
            elif not name.startswith("_"):
                found.add(name)
    return found


def test_the_readme_table_is_exactly_the_settings() -> None:
    assert _variables_of_the_table() == _variables_of_settings()
