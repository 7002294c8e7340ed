"""The OpenAI chat-completions wire format (requests, responses, streams, errors, embeddings).

Used in both directions: ``keyroute.api`` decodes client requests and encodes responses with it,
and the ``openai``/``openai-compatible`` providers encode upstream requests and decode upstream
responses with the same code.
"""
