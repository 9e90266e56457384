"""Benchmarks that measure what the documentation claims (`pressroom bench ...`).

Nothing here runs in production code paths; the CLI imports it lazily.
"""
