"""The layout's rules, checked over the source (docs/architecture.md).

- An org filter is written only by pressroom.orgs.access / db.tenancy (`OrgScope.where`):
  anywhere else a service takes the scope and uses it.
- Only orgs/access.py scopes a transaction to orgs; only db/tenancy.py makes an OrgScope.
- Imports flow downward: among the non-edge modules (everything but routes, the app, the
  CLIs and the model registry) the packages form no cycle, and no module outside the
  edge imports a route module or the registry.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "pressroom"

# Where an org filter may be spelled out, and why.
ORG_FILTER_HOMES = {
    "orgs/access.py": "proves access and makes the scope",
    "db/tenancy.py": "OrgScope.where: the one spelling every service uses",
    "billing/plans.py": "the plan rule correlates on whichever org column or value it is given",
}
# Raw SQL bound to an org id: the value bound is the caller's `scope.org_id`.
RAW_SQL_ORG_FILTERS = {"usage/service.py"}
_RAW_ORG_FILTER = re.compile(r"\borg_id\s*(=|IN)\s*(:|%\(|ANY)", re.IGNORECASE)


def _modules() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(SRC)): ast.parse(path.read_text(), str(path))
        for path in sorted(SRC.rglob("*.py"))
    }


def _is_org_column(node: ast.expr) -> bool:
    if not isinstance(node, ast.Attribute):
        return False
    if node.attr == "org_id":
        return True
    owner = node.value
    return node.attr == "id" and isinstance(owner, ast.Name) and owner.id == "Organization"


def _is_model_column(node: ast.expr) -> bool:
    """`Model.column` (a join condition's side), as opposed to a value."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id[:1].isupper()
    )


def org_filters(tree: ast.Module) -> list[int]:
    """Lines comparing an org column with a value, or `org_column.in_(...)`."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            if not isinstance(node.ops[0], ast.Eq):
                continue
            left, right = node.left, node.comparators[0]
            for column, other in ((left, right), (right, left)):
                if _is_org_column(column) and not _is_model_column(other):
                    lines.append(node.lineno)
                    break
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"in_", "any_"}
            and _is_org_column(node.func.value)
        ):
            lines.append(node.lineno)
    return lines


def raw_org_filters(tree: ast.Module) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and _RAW_ORG_FILTER.search(node.value)
    ]


def calls_to(tree: ast.Module, name: str) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called == name:
                lines.append(node.lineno)
    return lines


class TestTenantScope:
    def test_org_filters_are_written_only_where_the_scope_is_made(self) -> None:
        found = {
            path: lines
            for path, tree in _modules().items()
            if path not in ORG_FILTER_HOMES and (lines := org_filters(tree))
        }
        assert found == {}, "take an OrgScope and use scope.where(Model.org_id) instead"

    def test_raw_sql_org_filters_only_where_allowed(self) -> None:
        found = {
            path: lines
            for path, tree in _modules().items()
            if path not in RAW_SQL_ORG_FILTERS | {"orgs/access.py"}
            and (lines := raw_org_filters(tree))
        }
        assert found == {}

    def test_the_detector_sees_a_hand_written_filter(self) -> None:
        tree = ast.parse(
            "q = select(ContentJob).where(ContentJob.org_id == org_id)\n"
            "r = select(Membership).where(Membership.org_id.in_(ids))\n"
            "ok = select(A).join(B, B.org_id == A.id)\n"
        )
        assert org_filters(tree) == [1, 2]
        assert raw_org_filters(ast.parse("s = 'SELECT 1 FROM t WHERE org_id = :org'")) == [1]

    def test_only_orgs_access_scopes_a_transaction(self) -> None:
        callers = {path for path, tree in _modules().items() if calls_to(tree, "scope_to_orgs")}
        assert callers == {"orgs/access.py"}
        makers = {path for path, tree in _modules().items() if calls_to(tree, "OrgScope")}
        assert makers == {"db/tenancy.py"}
        provers = {path for path, tree in _modules().items() if calls_to(tree, "AccessProof")}
        assert provers == {"orgs/access.py"}


# The edge: what wires features together (mounting routes, commands, the schema registry).
def _is_edge(module: str) -> bool:
    leaf = module.rsplit(".", 1)[-1]
    return (
        module in {"pressroom.app", "pressroom.cli", "pressroom.models"}
        or leaf == "routes"
        or leaf.endswith("_routes")
        or leaf == "cli"
    )


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path, tree in _modules().items():
        module = "pressroom." + path.removesuffix(".py").replace("/", ".")
        module = module.removesuffix(".__init__")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.startswith("pressroom"):
                    graph[module].add(node.module)
                    for alias in node.names:
                        graph[module].add(f"{node.module}.{alias.name}")
            elif isinstance(node, ast.Import):
                graph[module].update(a.name for a in node.names if a.name.startswith("pressroom"))
    known = {"pressroom." + p.removesuffix(".py").replace("/", ".") for p in _modules()}
    known = {k.removesuffix(".__init__") for k in known}
    return {m: {t for t in targets if t in known and t != m} for m, targets in graph.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


class TestLayers:
    def test_no_module_below_the_edge_imports_the_edge(self) -> None:
        upward = {
            (module, target)
            for module, targets in _imports().items()
            if not _is_edge(module)
            for target in targets
            if _is_edge(target)
        }
        assert upward == set()

    def test_packages_below_the_edge_form_no_cycle(self) -> None:
        deps: dict[str, set[str]] = defaultdict(set)
        for module, targets in _imports().items():
            if _is_edge(module):
                continue
            for target in targets:
                if _package(target) != _package(module):
                    deps[_package(module)].add(_package(target))
        cycles = []

        def visit(node: str, path: list[str]) -> None:
            for nxt in sorted(deps.get(node, ())):
                if nxt in path:
                    cycles.append([*path[path.index(nxt) :], nxt])
                elif len(path) < 20:
                    visit(nxt, [*path, nxt])

        for package in sorted(deps):
            visit(package, [package])
        assert cycles == [], f"imports run back up: {cycles[0]}"
