"""Benchmark: CPU and statements per API request, next to floors of the same run.

    python -m bench.api [--quick] [--jobs 1000000] [--seconds 10] [--publish --as after]

Creates a fresh database (DATABASE_URL's server, else the embedded one), loads the jobs of
bench.jobs_api, counts each endpoint's statements on the wire in process, then runs the
app and the floors (bench/api/floor.py) under the same Uvicorn and drives each endpoint
with wrk in turns. `--quick` is a few seconds on a small dataset (the smoke test's mode).
With --publish the table goes to docs/api-performance.md between the markers named by --as.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from bench.api import report
from bench.api.run import Options, run
from bench.indexes import markers
from bench.jobs_api.wrk import WrkMissing
from pressroom.db.migrations import PROJECT_ROOT
from pressroom.db.url import resolve_database_url

QUICK = {"jobs": 3000, "seconds": 1.0, "warmup_seconds": 1.0, "deep": 500, "rounds": 1,
         "count_requests": 3, "connections": 4, "workers": 1, "pool_size": 4}  # fmt: skip


def _command(o: Options, quick: bool) -> str:
    parts = ["python -m bench.api"] + (["--quick"] if quick else [])
    base = Options(**QUICK) if quick else Options()
    for f in dataclasses.fields(Options):
        value = getattr(o, f.name)
        if value != getattr(base, f.name) and f.name not in ("database", "keep"):
            parts.append(f"--{f.name.replace('_', '-')} {value:g}")
    return " ".join(parts)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small data, 1 s per endpoint")
    for f in dataclasses.fields(Options):
        flag = "--" + f.name.replace("_", "-")
        if isinstance(f.default, bool):
            p.add_argument(flag, action="store_true", help="keep the database afterwards")
        elif f.default is None:
            p.add_argument(flag, default=None, help="database name (default: a fresh one)")
        else:
            p.add_argument(flag, type=type(f.default), default=None)
    p.add_argument("--url", help="server to use (default: DATABASE_URL, else embedded)")
    p.add_argument("--publish", action="store_true", help="write docs/api-performance.md")
    p.add_argument("--as", dest="section", default="now",
                   help="the section to replace when publishing (e.g. before, after)")  # fmt: skip
    p.add_argument("--docs-dir", type=Path, default=PROJECT_ROOT / "docs")
    return p.parse_args(argv)


def options_of(args: argparse.Namespace) -> Options:
    values = dict(QUICK) if args.quick else {}
    for f in dataclasses.fields(Options):
        given = getattr(args, f.name)
        if given is not None and given is not False:
            values[f.name] = given
    return Options(**values)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    options = options_of(args)
    configured = args.url or os.environ.get("DATABASE_URL")
    label = "server given by DATABASE_URL/--url" if configured else "embedded PostgreSQL"
    server = configured or resolve_database_url(quiet=True)
    try:
        results = run(
            server, label, options, command=_command(options, args.quick),
            progress=lambda msg: print(f"... {msg}", file=sys.stderr, flush=True),
        )  # fmt: skip
    except WrkMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.console(results))
    if args.publish:
        target = args.docs_dir / "api-performance.md"
        markers.write_between_markers(
            target, f"{report.NAME}-{args.section}",
            report.markdown(results, heading=args.section), title=report.TITLE,
        )  # fmt: skip
        print(f"published: {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
