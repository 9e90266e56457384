"""Pressroom: a multi-tenant content-generation SaaS backend on PostgreSQL."""

__version__ = "0.1.0"
