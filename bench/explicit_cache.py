"""What Gemini explicit caching adds to a request of a workspace that turned it on.

Per request, the pipeline asks the Gemini adapter for the request's cacheable prefixes
(``GeminiProvider.cache_prefixes``: the leading messages encoded, their JSON hashed with
SHA-256) and ``ExplicitCaches.plan`` which cache to use. This times both, with a system prompt
of ``--chars`` characters and ``--turns`` turns of conversation, beside ``encode_request`` of
the same request (what building it for Gemini costs anyway). Thread CPU time percentiles, so
other processes on a shared machine do not count.
"""

from __future__ import annotations

import argparse
import json
import time

from keyroute.caching.explicit import ExplicitCaches
from keyroute.catalogue import builtin
from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.providers.gemini import GeminiProvider
from keyroute.wire.gemini import encode_request


def request(chars: int, turns: int) -> ChatRequest:
    rules = " ".join(f"Rule {i}: answer about item {i * 7 % 101}." for i in range(chars // 20 + 1))
    messages = [Message(role="system", content=(TextPart(text=rules[:chars]),))]
    for i in range(turns):
        messages.append(Message(role="user", content=(TextPart(text=f"Question {i}?"),)))
        messages.append(Message(role="assistant", content=(TextPart(text=f"Answer {i}."),)))
    messages.append(Message(role="user", content=(TextPart(text="And the last one?"),)))
    return ChatRequest(model="gemini/gemini-3.5-flash", messages=tuple(messages))


def timed(work: object, n: int) -> dict[str, float]:
    samples = []
    for _ in range(n):
        t0 = time.thread_time_ns()
        work()  # type: ignore[operator]
        samples.append(time.thread_time_ns() - t0)
    samples.sort()
    return {
        "p50_us": samples[n // 2] / 1000,
        "p99_us": samples[min(n - 1, n * 99 // 100)] / 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chars", type=int, default=24_000)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--requests", type=int, default=5_000)
    args = parser.parse_args()
    req = request(args.chars, args.turns)
    provider = GeminiProvider()
    caches = ExplicitCaches(builtin())

    def prepare() -> None:
        caches.plan(
            workspace_id="w",
            key_id="k",
            provider="gemini",
            model="gemini-3.5-flash",
            prefixes=provider.cache_prefixes(req),
            ttl_seconds=300,
        )

    for work in (prepare, lambda: encode_request(req)):
        timed(work, 200)  # warm-up
    print(
        json.dumps(
            {
                "chars": args.chars,
                "turns": args.turns,
                "prefixes_and_plan": timed(prepare, args.requests),
                "encode_request": timed(lambda: encode_request(req), args.requests),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
