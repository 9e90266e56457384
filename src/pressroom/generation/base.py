"""The engine interface: a validated request in, typed artifact drafts out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from pressroom.generation.errors import InputError
from pressroom.generation.kinds import ArtifactType, JobKind, SourceInput, parse_input


@dataclass(frozen=True)
class GenerationRequest:
    kind: JobKind
    input: SourceInput

    @classmethod
    def from_job(cls, kind: str, data: dict[str, Any]) -> GenerationRequest:
        """Validate a stored job's kind and input (the worker's entry point).

        Input the API accepted is valid, but a row written by an older version may not be:
        that is the user's input being unusable, not a fault to retry.
        """
        try:
            parsed = parse_input(kind, data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = first["loc"]
            # A discriminated union puts the kind first: ("summary", "input", "text").
            loc = loc[1:] if loc and loc[0] == kind else loc
            location = ".".join(str(part) for part in loc)
            raise InputError(f"{location}: {first['msg']}", field=location) from None
        return cls(kind=JobKind(kind), input=parsed)


@dataclass(frozen=True)
class ArtifactDraft:
    type: ArtifactType
    media_type: str
    content: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def size_bytes(self) -> int:
        return len(self.content.encode("utf-8"))


@dataclass(frozen=True)
class TokenUsage:
    model: str
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class GenerationResult:
    engine: str
    artifacts: list[ArtifactDraft]
    usage: TokenUsage | None = None

    def of_type(self, artifact_type: ArtifactType) -> list[ArtifactDraft]:
        return [a for a in self.artifacts if a.type == artifact_type]


class Engine(Protocol):
    """Turns one job into artifacts.

    Raises `InputError`, `TransientEngineError` or `EngineError` (generation/errors.py);
    anything else is a bug, which the worker treats like `EngineError`.
    """

    name: str

    def generate(self, request: GenerationRequest) -> GenerationResult: ...
