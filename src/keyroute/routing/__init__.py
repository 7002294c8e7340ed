"""Routing: which provider, deployment and key serve a model id for a workspace.

Today a model id resolves to exactly one route; the fallback and smart-routing issues turn the
result into an ordered list of candidates without changing callers.
"""
