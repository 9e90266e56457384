from tests.http import client

__all__ = ["client"]
