"""docs/api.md's error table lists exactly the codes the API answers with."""

from __future__ import annotations

import re
from pathlib import Path

from pressroom import app, cli
from pressroom.errors import AppError

# Imported for what they import: every module that defines an error class.
LOADED = (app, cli)

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
# Answered by the handlers in errors.py rather than by an AppError subclass.
HANDLER_CODES = {(400, "malformed_request"), (404, "not_found"), (500, "internal_error")}


def _subclasses(cls: type[AppError]) -> set[type[AppError]]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


def test_the_error_table_matches_the_code() -> None:
    in_code = {
        (err.status, err.code)
        for err in _subclasses(AppError)
        # A job's failure is recorded on the job, not answered (docs/generation.md).
        if not err.__module__.startswith("pressroom.generation")
    } | HANDLER_CODES
    section = DOC.read_text().split("| status | codes |", 1)[1].split("\n\n", 1)[0]
    documented = {
        (int(status), code)
        for status, codes in re.findall(r"^\| (\d{3}) \| (.*) \|$", section, re.MULTILINE)
        for code in re.findall(r"`([a-z_]+)`", codes)
    }
    assert documented == in_code
