"""docs/authorization.md shows the same permission table as the code."""

from __future__ import annotations

from pathlib import Path

from pressroom.orgs.models import Role
from pressroom.orgs.permissions import API_KEY_SCOPES, PERMISSIONS, Permission

DOC = Path(__file__).resolve().parents[2] / "docs" / "authorization.md"


def _documented() -> dict[str, list[str]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        if line.startswith("| `") and line.count("|") == 6:
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def _in_code(permission: Permission) -> list[str]:
    roles = PERMISSIONS[permission]
    cells = ["yes" if role in roles else "no" for role in (Role.OWNER, Role.ADMIN, Role.MEMBER)]
    return [*cells, "grantable" if permission in API_KEY_SCOPES else "no"]


class TestPermissionTableDoc:
    def test_doc_and_code_agree(self) -> None:
        assert _documented() == {p.value: _in_code(p) for p in Permission}

    def test_every_permission_has_a_role(self) -> None:
        assert set(PERMISSIONS) == set(Permission)
        assert all(Role.OWNER in roles for roles in PERMISSIONS.values())
