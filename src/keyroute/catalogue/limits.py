"""A model's limits applied to a request: pure functions the pipeline calls once it has routed.

``lower_output_limit``: a client may ask for more output than the model can write (Claude Code
asks for 128,000 tokens, whatever the model); the request is then sent with the model's maximum
from the catalogue, and the pipeline says so in the ``x-keyroute-max-tokens-lowered`` response
header, instead of letting the provider refuse it. A model the catalogue does not know, or a
request without a limit, is left as it is.

``without_reasoning``: for a model that does not reason (``capabilities.reasoning`` false in
the catalogue), a reasoning setting has nothing to steer, yet providers refuse it (OpenAI
answers 400 to ``reasoning_effort`` on ``gpt-4o-mini``). Claude Code sends an effort and
adaptive thinking whatever the model, so the request is sent without them, which changes no
answer, and the pipeline says so in ``x-keyroute-reasoning-ignored``.
"""

from __future__ import annotations

from dataclasses import replace

from keyroute.core.chat import ChatRequest


def lower_output_limit(req: ChatRequest, maximum: int | None) -> ChatRequest:
    """``req`` with ``max_tokens`` lowered to ``maximum`` when above it; else ``req`` itself."""
    if maximum is None or req.max_tokens is None or req.max_tokens <= maximum:
        return req
    return replace(req, max_tokens=maximum)


def without_reasoning(req: ChatRequest) -> ChatRequest:
    """``req`` without its reasoning settings (effort, per-turn effort, thinking); else ``req``
    itself when it has none."""
    turns = any(m.reasoning_effort is not None for m in req.messages)
    settings = (req.reasoning_effort, req.thinking, req.thinking_budget, req.thinking_display)
    if not turns and all(value is None for value in settings):
        return req
    messages = tuple(
        replace(m, reasoning_effort=None) if m.reasoning_effort is not None else m
        for m in req.messages
    )
    return replace(
        req,
        messages=messages,
        reasoning_effort=None,
        thinking=None,
        thinking_budget=None,
        thinking_display=None,
    )
