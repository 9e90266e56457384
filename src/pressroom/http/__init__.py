"""The HTTP edge: ASGI middlewares and request dependencies shared by every feature."""
