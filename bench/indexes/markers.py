"""Benchmarks publish into docs between `<!-- bench:NAME:start/end -->` markers."""

from __future__ import annotations

from pathlib import Path


def markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"


def write_between_markers(path: Path, name: str, content: str, *, title: str) -> None:
    """Replace only the text between the markers (appended, under `title`, if missing)."""
    start, end = markers(name)
    text = path.read_text() if path.exists() else f"# {title}\n"
    if start not in text or end not in text:
        text = text.rstrip("\n") + f"\n\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{head}{start}\n{content.strip()}\n{end}{tail}")
