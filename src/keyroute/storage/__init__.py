"""Persistence behind Protocols (``storage.base``); one module per backend.

The request path never writes here synchronously: it reads through in-memory caches that
``Store.revision()`` tells it to drop, and its writes (last-used times) are batched in the
background.
"""
