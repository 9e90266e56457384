"""docs/migration-rollback.md says what rolling back each revision does, down to base:
its table has one row per step of the chain, newest first."""

from __future__ import annotations

import re
from pathlib import Path

from alembic.script import ScriptDirectory

from pressroom.db.migrations import alembic_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "migration-rollback.md"


def test_the_rollback_table_covers_every_revision_through_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    chain = [(rev.revision, rev.down_revision or "base") for rev in script.walk_revisions()]
    rows = re.findall(r"^\| `(\w+)` → `?(\w+)`? \|", DOC.read_text(), re.MULTILINE)
    assert rows == chain
