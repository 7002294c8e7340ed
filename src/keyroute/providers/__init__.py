"""Outbound provider adapters: endpoint, auth, capabilities and wire mapping. Pure: no I/O.

Each adapter turns a canonical ``ChatRequest`` into an ``UpstreamRequest`` (bytes to send) and the
provider's bytes back into canonical responses, stream events and errors. ``keyroute.upstream``
sends; adapters never touch a socket.
"""
