from __future__ import annotations

from tests.http import client

__all__ = ["client"]
