"""`pressroom generate`: run an engine on a file and print the artifacts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.panel import Panel

from pressroom.config import get_settings
from pressroom.errors import AppError
from pressroom.generation.base import GenerationRequest, GenerationResult
from pressroom.generation.errors import InputError
from pressroom.generation.kinds import JobKind, SourceFormat, parse_input
from pressroom.observability import configure_logging

_BY_SUFFIX = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}


def _print(result: GenerationResult) -> None:
    console = Console()
    for artifact in result.artifacts:
        label = artifact.type.value
        if "network" in artifact.metadata:
            label += f" ({artifact.metadata['network']}: "
            label += f"{artifact.metadata['length']}/{artifact.metadata['limit']})"
        console.print(Panel(artifact.content, title=label, title_align="left"), markup=False)
    if result.usage:
        usage = result.usage
        console.print(
            f"model {usage.model}: {usage.prompt_tokens} prompt + "
            f"{usage.completion_tokens} completion tokens",
            markup=False,
        )


def _as_json(result: GenerationResult) -> str:
    body: dict[str, Any] = {
        "engine": result.engine,
        "artifacts": [
            {
                "type": a.type.value,
                "media_type": a.media_type,
                "size_bytes": a.size_bytes,
                "metadata": a.metadata,
                "content": a.content,
            }
            for a in result.artifacts
        ],
        "usage": result.usage.__dict__ if result.usage else None,
    }
    return json.dumps(body, ensure_ascii=False, indent=2)


def generate(
    file: Annotated[Path, typer.Argument(help="Article to read; - for standard input.")],
    kind: Annotated[JobKind, typer.Option(help="Job kind.")] = JobKind.FULL_PACK,
    source_format: Annotated[
        SourceFormat | None,
        typer.Option("--format", help="Format of FILE (default: from its extension)."),
    ] = None,
    title: Annotated[str | None, typer.Option(help="Article title.")] = None,
    language: Annotated[str, typer.Option(help="Language of the text.")] = "en",
    url: Annotated[str | None, typer.Option(help="Link to put in social posts.")] = None,
    engine: Annotated[
        str | None, typer.Option(help="builtin or openai (default: from settings).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run a generation engine on FILE and print the artifacts."""
    # Logs (the openai engine's usage line) go to stderr, so `--json` leaves stdout pure JSON.
    configure_logging("WARNING" if as_json else "INFO")
    text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    fmt = source_format or SourceFormat(_BY_SUFFIX.get(file.suffix.lower(), "text"))
    data: dict[str, Any] = {"text": text, "format": fmt.value, "language": language}
    if title:
        data["title"] = title
    if url and kind in (JobKind.SOCIAL_POSTS, JobKind.FULL_PACK):
        data["url"] = url
    from pressroom.generation.registry import engine_for  # openai, yake: load only when used

    settings = get_settings()
    if engine:
        settings = settings.model_copy(update={"engine": engine, "engine_by_kind": {}})
    try:
        request = GenerationRequest(kind, parse_input(kind.value, data))
        result = engine_for(kind.value, settings).generate(request)
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"][1:])
            typer.echo(f"error: {where}: {err['msg']}", err=True)
        raise typer.Exit(2) from None
    except AppError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2 if isinstance(exc, InputError) else 1) from None
    typer.echo(_as_json(result)) if as_json else _print(result)
