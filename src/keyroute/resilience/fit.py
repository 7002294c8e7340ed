"""Pre-flight fit: whether a candidate's context window can hold a request.

keyroute counts prompt tokens with a calibrated estimate, not a tokenizer: tiktoken's wheel
ships no BPE files (it downloads them on first use, which a gateway must never do), and no
tokenizer is right for Anthropic's or Gemini's models anyway. The estimate counts ASCII
characters at 4 a token, two-byte UTF-8 characters (Cyrillic, Greek, accented Latin) at 0.7 a
token and wider ones (CJK, emoji) at 1 a token, plus 4 tokens a message and a tile set per
image. Measured against cl100k_base on keyroute's own docs, sources and transcripts and on
CJK, Cyrillic and Greek text, the real count was 0.77 to 1.5 times the estimate (docs 1.03,
code 0.93, JSON 1.16, CJK 1.04 on average).

So a candidate is skipped only when even ``LOWER_BOUND`` (0.75) times the estimate, plus the
requested output, is over its window: a request that could fit is never refused or diverted
up front. One that does not fit after all still fails over on the provider's own
context-length error (``classify``: ``context``), to a larger window only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from keyroute.core.chat import ChatRequest, ImagePart, TextPart, ThinkingPart

LOWER_BOUND = 0.75
IMAGE_TOKENS = 765  # a typical high-detail image; providers differ
MESSAGE_TOKENS = 4


def text_tokens(text: str) -> float:
    """The calibrated token estimate of ``text`` (see the module docstring)."""
    if text.isascii():
        return len(text) / 4
    ascii_chars = len(text.encode("ascii", "ignore"))
    others = len(text) - ascii_chars
    other_bytes = len(text.encode("utf-8", "surrogatepass")) - ascii_chars
    wide = min(others, max(0, other_bytes - 2 * others))  # three bytes or more
    return ascii_chars / 4 + 0.7 * (others - wide) + wide


def prompt_tokens(req: ChatRequest) -> int:
    """The calibrated estimate of ``req``'s prompt tokens."""
    total = 0.0
    images = 0
    for message in req.messages:
        for part in message.content:
            if isinstance(part, TextPart | ThinkingPart):
                total += text_tokens(part.text)
            elif isinstance(part, ImagePart):
                images += 1
        for call in message.tool_calls:
            total += text_tokens(call.name) + text_tokens(call.arguments)
    for tool in req.tools:
        total += text_tokens(tool.name) + text_tokens(tool.description or "")
        total += text_tokens(json.dumps(tool.parameters, separators=(",", ":")))
    return int(total) + MESSAGE_TOKENS * len(req.messages) + IMAGE_TOKENS * images


@dataclass(frozen=True, slots=True)
class Footprint:
    """A request's size against context windows: estimated prompt, requested output."""

    prompt: int
    output: int

    @classmethod
    def of(cls, req: ChatRequest) -> Footprint:
        return cls(prompt=prompt_tokens(req), output=req.max_tokens or 0)

    @property
    def least(self) -> int:
        """The fewest tokens the request can take in a window (the estimate's lower bound)."""
        return int(self.prompt * LOWER_BOUND) + self.output

    def fits(self, window: int | None) -> bool:
        """Whether a model with ``window`` may hold the request (an unknown window: yes)."""
        return window is None or self.least <= window
