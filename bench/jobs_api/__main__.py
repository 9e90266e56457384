"""Benchmark: the jobs API through HTTP with >= 1M jobs in the table.

    python -m bench.jobs_api [--jobs 1000000] [--seconds 15] [--connections 32] ...

Creates a fresh database on the configured server (DATABASE_URL, else the embedded one),
migrates it to head, generates the jobs with server-side SQL, starts the real app under
Uvicorn on 127.0.0.1 and drives it with wrk: listing (page 1 and a page deep in the big
org), submissions (no key, fresh keys, replayed keys) and submissions at the quota edge.
Then checks the counters, pages through the big org comparing with SQL, and prints the
plans of the statements the API issues. With --publish (default at >= 1M jobs) the results
go to docs/jobs.md between the bench markers. Exits non-zero if any check failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from bench.jobs_api import report
from bench.jobs_api.run import Options, run
from bench.jobs_api.wrk import WrkMissing
from pressroom.db.migrations import PROJECT_ROOT
from pressroom.db.url import resolve_database_url

DEFAULTS = Options()


def _command(o: Options) -> str:
    parts = ["python -m bench.jobs_api"]
    for f in dataclasses.fields(Options):
        value = getattr(o, f.name)
        if value != f.default and f.name not in ("database", "keep"):
            parts.append(f"--{f.name.replace('_', '-')} {value:g}")
    return " ".join(parts)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    for f in dataclasses.fields(Options):
        flag = "--" + f.name.replace("_", "-")
        if f.type == "bool" or isinstance(f.default, bool):
            p.add_argument(flag, action="store_true", help="keep the database afterwards")
        elif f.default is None:
            p.add_argument(flag, default=None, help="database name (default: a fresh one)")
        else:
            p.add_argument(flag, type=type(f.default), default=f.default)
    p.add_argument("--url", help="server to use (default: DATABASE_URL, else embedded)")
    p.add_argument("--publish", action=argparse.BooleanOptionalAction, default=None,
                   help="write docs/jobs.md (default: only with >= 1M jobs)")  # fmt: skip
    p.add_argument("--docs-dir", type=Path, default=PROJECT_ROOT / "docs")
    p.add_argument("--json", type=Path, help="also write the raw results as JSON")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    options = Options(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Options)})
    configured = args.url or os.environ.get("DATABASE_URL")
    label = "server given by DATABASE_URL/--url" if configured else "embedded PostgreSQL"
    server = configured or resolve_database_url(quiet=True)
    try:
        results = run(
            server,
            label,
            options,
            command=_command(options),
            progress=lambda msg: print(f"... {msg}", file=sys.stderr, flush=True),
        )
    except WrkMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.console(results))
    if args.json:
        args.json.write_text(json.dumps(_jsonable(results), indent=1, default=str))
    if args.publish if args.publish is not None else options.jobs >= 1_000_000:
        target = args.docs_dir / "jobs.md"
        report.write_between_markers(target, report.markdown(results))
        print(f"published: {target}")
    return 0 if results.ok else 1


if __name__ == "__main__":
    sys.exit(main())
