"""Wire formats: pure codecs between bytes of a public API and the canonical model.

Each module serves both directions: the inbound HTTP layer decodes client requests and encodes
responses with it, and provider adapters encode upstream requests and decode upstream responses
with the same code.
"""
