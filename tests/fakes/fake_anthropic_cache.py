"""Anthropic prompt caching, simulated from the breakpoints a request carries.

``PromptCacheSim`` answers a Messages request by itself (the fake's caching mode): it counts the
cache reads and writes the real API would report for the ``cache_control`` breakpoints it
received, following the documented rules:

- the prefix order is tools, then ``system``, then messages; every block is one position;
- a breakpoint writes the prefix up to and including its block, if that prefix has at least
  the model's minimum cacheable length (``MIN_TOKENS``, the published minimums) and is not
  already cached; a shorter one caches nothing and costs nothing;
- a breakpoint reads the longest cached prefix ending at its block or at one of the 19 blocks
  before it (the lookback); a read refreshes the entry's lifetime;
- the top-level ``cache_control`` (automatic caching) is a breakpoint on the last block;
- more than 4 breakpoints, or a one-hour breakpoint after a five-minute one, is a 400;
- a cached prefix is the exact content: ``cache_control`` markers themselves are not part of
  it, everything else is (a changed byte anywhere before a breakpoint misses);
- entries are per model and expire after their ``ttl`` (5 minutes, or 1 hour) on ``clock``.

Tokens are counted as four characters of a block's text (its JSON for tools, tool calls and
other blocks); the usage is Anthropic's: ``input_tokens`` excludes reads and writes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MIN_TOKENS = {
    "claude-opus-5": 512,
    "claude-fable-5-1": 512,
    "claude-sonnet-5": 1024,
    "claude-sonnet-4-5": 1024,
    "claude-opus-4-7": 2048,
    "claude-haiku-4-5": 4096,
    "claude-opus-4-5": 4096,
}
DEFAULT_MIN_TOKENS = 1024
LOOKBACK = 20
MAX_BREAKPOINTS = 4
_TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


class CacheRuleError(ValueError):
    """A request the real API refuses with 400 ``invalid_request_error``."""


@dataclass
class _Block:
    tokens: int
    content: str  # the block without its cache_control, as canonical JSON
    ttl: str | None  # the breakpoint's lifetime, or None when the block is no breakpoint


@dataclass
class Outcome:
    """One request's cache accounting, as the fake reported it."""

    total: int
    read: int
    written: int
    written_1h: int


@dataclass
class PromptCacheSim:
    clock: Callable[[], float] = time.monotonic
    entries: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    """(model, prefix hash) -> (expiry, lifetime in seconds)."""
    outcomes: list[Outcome] = field(default_factory=list)

    def account(self, body: dict[str, Any]) -> Outcome:
        """The cache reads and writes of one request (and the cache updated)."""
        model = str(body["model"])
        blocks = _blocks(body)
        marks = [i for i, b in enumerate(blocks) if b.ttl is not None]
        if len(marks) > MAX_BREAKPOINTS:
            raise CacheRuleError(
                f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                f"Found {len(marks)}."
            )
        ttls = [blocks[i].ttl for i in marks]
        if any(a == "5m" and b == "1h" for a, b in zip(ttls, ttls[1:], strict=False)):
            raise CacheRuleError("a ttl='1h' cache_control block must not come after ttl='5m'")
        hashes, cumulative = _prefixes(model, blocks)
        now = self.clock()
        read_end = -1
        for mark in marks:
            for j in range(mark, max(-1, mark - LOOKBACK), -1):
                entry = self.entries.get((model, hashes[j]))
                if entry is not None and entry[0] > now:
                    read_end = max(read_end, j)
                    break
        read = cumulative[read_end] if read_end >= 0 else 0
        if read_end >= 0:  # a read refreshes the entry's lifetime
            lifetime = self.entries[(model, hashes[read_end])][1]
            self.entries[(model, hashes[read_end])] = (now + lifetime, lifetime)
        minimum = MIN_TOKENS.get(model, DEFAULT_MIN_TOKENS)
        written = written_1h = 0
        for mark in marks:
            lifetime = _TTL_SECONDS[blocks[mark].ttl or "5m"]
            key = (model, hashes[mark])
            if cumulative[mark] < minimum:
                continue
            entry = self.entries.get(key)
            if (entry is None or entry[0] <= now) and mark > read_end:
                written = max(written, cumulative[mark] - read)
                if lifetime == _TTL_SECONDS["1h"]:
                    written_1h = max(written_1h, cumulative[mark] - read)
            self.entries[key] = (now + lifetime, lifetime)
        outcome = Outcome(
            total=cumulative[-1] if cumulative else 0,
            read=read,
            written=written,
            written_1h=written_1h,
        )
        self.outcomes.append(outcome)
        return outcome

    def usage(self, outcome: Outcome, output_tokens: int) -> dict[str, Any]:
        """The ``usage`` object of the answer."""
        return {
            "input_tokens": outcome.total - outcome.read - outcome.written,
            "cache_read_input_tokens": outcome.read,
            "cache_creation_input_tokens": outcome.written,
            "cache_creation": {
                "ephemeral_5m_input_tokens": outcome.written - outcome.written_1h,
                "ephemeral_1h_input_tokens": outcome.written_1h,
            },
            "output_tokens": output_tokens,
        }


def _tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _block(raw: Any, auto: dict[str, Any] | None = None) -> _Block:
    item = dict(raw) if isinstance(raw, dict) else {"type": "text", "text": raw}
    marker = item.pop("cache_control", None) or auto
    content = json.dumps(item, sort_keys=True, separators=(",", ":"))
    text = item.get("text") if item.get("type") == "text" else None
    tokens = _tokens(text) if isinstance(text, str) else _tokens(content)
    ttl = None if marker is None else str(marker.get("ttl") or "5m")
    return _Block(tokens=tokens, content=content, ttl=ttl)


def _blocks(body: dict[str, Any]) -> list[_Block]:
    blocks = [_block(tool) for tool in body.get("tools") or []]
    system = body.get("system")
    if isinstance(system, str):
        blocks.append(_block(system))
    elif isinstance(system, list):
        blocks.extend(_block(b) for b in system)
    for message in body["messages"]:
        content = message["content"]
        items = [content] if isinstance(content, str) else content
        role = str(message["role"])
        for item in items:
            block = _block(item)
            block.content = role + ":" + block.content
            blocks.append(block)
    auto = body.get("cache_control")
    if isinstance(auto, dict) and blocks:
        blocks[-1].ttl = str(auto.get("ttl") or "5m")
    return blocks


def _prefixes(model: str, blocks: list[_Block]) -> tuple[list[str], list[int]]:
    digest = hashlib.sha256(model.encode())
    hashes: list[str] = []
    cumulative: list[int] = []
    total = 0
    for block in blocks:
        digest.update(block.content.encode() + b"\x00")
        hashes.append(digest.copy().hexdigest())
        total += block.tokens
        cumulative.append(total)
    return hashes, cumulative
