"""Generation engines: turn a job's validated input into typed artifacts (docs/generation.md).

`pressroom.generation.registry.engine_for(kind, settings)` picks the engine; it is not
imported here so that importing the interface does not load the engines' libraries.
"""

from pressroom.generation.base import (
    ArtifactDraft,
    Engine,
    GenerationRequest,
    GenerationResult,
    TokenUsage,
)
from pressroom.generation.errors import EngineError, InputError, TransientEngineError
from pressroom.generation.kinds import ArtifactType, JobKind

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
]
