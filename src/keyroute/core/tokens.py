"""A provider-independent token estimate (about four characters a token).

Used where a provider has no counting endpoint (``/v1/messages/count_tokens`` served by an
OpenAI-format or Gemini model). It is an estimate and is labelled so wherever it is shown.
"""

from __future__ import annotations

import json

from keyroute.core.chat import ChatRequest, ImagePart, TextPart, ThinkingPart

_IMAGE_TOKENS = 765  # a typical high-detail image tile set; providers differ


def estimate_tokens(req: ChatRequest) -> int:
    chars = 0
    images = 0
    for message in req.messages:
        for part in message.content:
            if isinstance(part, TextPart | ThinkingPart):
                chars += len(part.text)
            elif isinstance(part, ImagePart):
                images += 1
        for call in message.tool_calls:
            chars += len(call.name) + len(call.arguments)
    for tool in req.tools:
        chars += len(tool.name) + len(tool.description or "")
        chars += len(json.dumps(tool.parameters, separators=(",", ":")))
    per_message = 4 * len(req.messages)
    return (chars + 3) // 4 + per_message + images * _IMAGE_TOKENS
