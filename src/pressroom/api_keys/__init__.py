"""Organization API keys: the machine credential, and the routes that manage it."""
