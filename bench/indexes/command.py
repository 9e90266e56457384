"""`python -m bench.indexes` (`make bench-indexes`): the heavy modules load only when it runs."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from pressroom.db.migrations import PROJECT_ROOT


def _command(scale: float, runs: int, seed: int) -> str:
    parts = ["python -m bench.indexes"]
    if scale != 1.0:
        parts.append(f"--scale {scale:g}")
    if runs != 25:
        parts.append(f"--runs {runs}")
    if seed != 42:
        parts.append(f"--seed {seed}")
    return " ".join(parts)


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return value


def indexes(
    scale: Annotated[float, typer.Option(help="Data scale; 1 = 2M jobs, 0.01 = quick.")] = 1.0,
    runs: Annotated[int, typer.Option(help="Timed runs per query and phase.")] = 25,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 42,
    database: Annotated[
        str, typer.Option(help="Database to (re)create on the server; dropped first.")
    ] = "pressroom_bench",
    url: Annotated[
        str | None,
        typer.Option(help="Server to use (default: DATABASE_URL, else the embedded one)."),
    ] = None,
    publish: Annotated[
        bool | None,
        typer.Option(
            help="Write the Measured section of docs/database-indexes.md "
            "(default: only at scale 1)."
        ),
    ] = None,
    docs_dir: Annotated[Path, typer.Option(help="Where docs/ is.")] = PROJECT_ROOT / "docs",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the raw results as JSON.")
    ] = None,
) -> None:
    """Measure the seed's index migration: before (0607bc5b8536) vs head, same data."""
    from rich.console import Console

    from bench.indexes import indexes as bench
    from bench.indexes import report
    from pressroom.config import get_settings
    from pressroom.db.url import resolve_database_url

    if scale <= 0 or runs < 1:
        raise typer.BadParameter("--scale must be > 0 and --runs >= 1")
    configured = url or get_settings().database_url
    label = (
        "server given by --url"
        if url
        else "DATABASE_URL server"
        if configured
        else "embedded PostgreSQL (pressroom data dir)"
    )
    server = configured or resolve_database_url(quiet=True)
    # Piped output (CI logs, `| tee`) gets a table wide enough to read.
    console = Console() if sys.stdout.isatty() else Console(width=220)
    command = _command(scale, runs, seed)
    with console.status("starting") as status:
        result = bench.run(
            server,
            scale=scale,
            runs=runs,
            seed=seed,
            database=database,
            server_label=label,
            command=command,
            progress=lambda message: status.update(message),
        )
    report.print_report(result, console)

    results_name = f"bench/indexes-{scale:g}.md"
    (docs_dir / "bench").mkdir(parents=True, exist_ok=True)
    (docs_dir / results_name).write_text(report.results_markdown(result) + "\n")
    console.print(f"results: {docs_dir / results_name}")
    if publish if publish is not None else scale == 1.0:
        target = docs_dir / "database-indexes.md"
        report.write_between_markers(target, report.summary_markdown(result, results_name))
        console.print(f"published: {target} (between the bench markers)")
    if json_out:
        json_out.write_text(json.dumps(_jsonable(result), indent=1, default=str))


# One command: `python -m bench.indexes --scale 0.01` runs it directly.
main = typer.Typer(add_completion=False)
main.command()(indexes)
