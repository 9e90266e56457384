"""The dashboard: server-rendered pages on the API's own services and access path.

See docs/dashboard.md. Pages live in `pages/` by feature, templates in `templates/`, and
our own small CSS and JS in `static/` (no build step, nothing from another origin).
"""
