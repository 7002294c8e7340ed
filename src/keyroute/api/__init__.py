"""Inbound HTTP: thin handlers that parse with ``keyroute.wire``, call ``Pipeline``, render.

Data-plane handlers are plain ASGI callables (no per-request framework objects on the hot path);
``app.create_app`` mounts them with the admin API in one Starlette application.
"""
