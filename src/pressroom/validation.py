"""Input string types shared by the API schemas.

PostgreSQL text cannot hold NUL, and lone surrogates cannot be encoded as UTF-8: both must
be refused as invalid input (422) instead of failing in the driver (500).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


Storable = AfterValidator(_storable)

# A short human-chosen name (org, API key, person): trimmed, 1-100 characters.
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Storable
]
