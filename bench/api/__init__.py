"""`make bench-api`: CPU and statements per API request, as ratios to floors measured in the
same run under the same Uvicorn (docs/api-performance.md)."""
