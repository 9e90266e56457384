"""How a generation can fail, in the three ways the worker must tell apart.

- `InputError`: the user's input cannot be turned into content (too short, garbage).
  Retrying cannot help and the quota is not refunded: the work was asked for.
  `InputTooLongError`, too long for the model's context, is not retried but is refunded.
- `TransientEngineError`: the engine could not answer now (timeout, connection error, 429,
  5xx, an unparsable answer from a model). The worker retries; if the last attempt fails too,
  the job fails and its quota is refunded.
- `EngineError`: a permanent fault on our side (misconfiguration, rejected API key, unknown
  model). Retrying will not help until an operator acts; the quota is refunded.

All are `AppError`s so that, should an engine ever run inside a request, the client gets a
problem document with a stable code instead of a 500.
"""

from __future__ import annotations

from pressroom.errors import AppError, InvalidInput, ServiceUnavailable


class InputError(InvalidInput):
    code = "unusable_input"
    title = "Input cannot be used"

    def __init__(self, detail: str, *, field: str = "input.text") -> None:
        super().__init__(detail, extra={"errors": [{"field": field, "message": detail}]})
        self.field = field


class InputTooLongError(InputError):
    """The text does not fit the model's context. Not retried; unlike other input errors the
    quota is refunded: the limit is the deployment's model, which the user could not see when
    the API accepted the text (docs/generation.md)."""

    code = "input_too_long"
    title = "Input too long for the model"


class TransientEngineError(ServiceUnavailable):
    code = "engine_unavailable"
    title = "Generation engine unavailable"

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after else None
        super().__init__(detail, headers=headers)
        # Seconds the upstream asked us to wait, so the worker can set run_after to honour it.
        self.retry_after = retry_after


class EngineError(AppError):
    status, code, title = 502, "engine_error", "Generation engine error"
