"""Benchmark of the jobs API through HTTP: `python -m bench.jobs_api --help`.

Modules: `data` (deterministic rows generated inside PostgreSQL), `server` (the real app
under Uvicorn in a subprocess), `wrk` (the load generator and its Lua script), `checks`
(correctness that must hold however fast it went: quota, idempotency, page-through, plans),
`report` (the Markdown written to docs/jobs.md), `__main__` (the run, phase by phase).
"""
