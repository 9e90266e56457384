"""Which engine runs a job: PRESSROOM_ENGINE_BY_KIND[kind], else PRESSROOM_ENGINE."""

from __future__ import annotations

import hashlib
import threading

from pressroom.config import Settings
from pressroom.generation.base import Engine
from pressroom.generation.builtin import BuiltinEngine
from pressroom.generation.errors import EngineError
from pressroom.generation.kinds import JobKind
from pressroom.generation.openai_engine import OpenAIEngine

_lock = threading.Lock()
_openai_engines: dict[tuple[object, ...], OpenAIEngine] = {}


def engine_name_for(kind: str, settings: Settings) -> str:
    unknown = sorted(set(settings.engine_by_kind) - {k.value for k in JobKind})
    if unknown:
        raise EngineError(f"PRESSROOM_ENGINE_BY_KIND names unknown job kinds: {unknown}.")
    return settings.engine_by_kind.get(kind, settings.engine)


def _openai_key(settings: Settings) -> tuple[object, ...]:
    secret = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    return (
        settings.openai_base_url,
        hashlib.sha256(secret.encode()).hexdigest(),  # the key itself is not kept as a dict key
        settings.openai_model,
        settings.openai_timeout_s,
        settings.openai_max_retries,
        settings.openai_max_input_chars,
        settings.openai_temperature,
    )


def engine_for(kind: str, settings: Settings) -> Engine:
    """The engine for `kind`. OpenAI engines are shared per configuration, so their HTTP
    connection pool is reused across jobs."""
    name = engine_name_for(kind, settings)
    if name == "builtin":
        return BuiltinEngine()
    key = _openai_key(settings)
    with _lock:
        engine = _openai_engines.get(key)
        if engine is None:
            engine = _openai_engines[key] = OpenAIEngine(settings)
    return engine
