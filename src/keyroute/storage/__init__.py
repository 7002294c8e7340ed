"""Persistence behind Protocols (``storage.base``); one module per backend.

The request path never writes here synchronously: it reads through in-memory caches that
each store's ``ChangeFeed`` (``Store.changes``) invalidates per workspace, without I/O on the
request path, and its writes (last-used times) are batched in the background.
"""
