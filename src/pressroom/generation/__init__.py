"""Generation engines: turn a job's validated input into typed artifacts (docs/generation.md)."""

from pressroom.generation.base import (
    ArtifactDraft,
    Engine,
    GenerationRequest,
    GenerationResult,
    TokenUsage,
)
from pressroom.generation.errors import EngineError, InputError, TransientEngineError
from pressroom.generation.kinds import ArtifactType, JobKind
from pressroom.generation.registry import engine_for

__all__ = [
    "ArtifactDraft",
    "ArtifactType",
    "Engine",
    "EngineError",
    "GenerationRequest",
    "GenerationResult",
    "InputError",
    "JobKind",
    "TokenUsage",
    "TransientEngineError",
    "engine_for",
]
