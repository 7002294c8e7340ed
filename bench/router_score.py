"""Difficulty scoring time per request, feature extraction included (``make bench-router``).

Builds a request whose last user turn is ``--chars`` characters of this repository's own docs
(English prose, code blocks, tables: deterministic, no external data) behind a short system
prompt, then times ``Scorer.score`` (extraction + model) ``--requests`` times per size after a
warm-up, the sizes interleaved in ``--rounds`` rounds.
Reports wall-clock percentiles and, beside them, the thread's CPU time percentiles (which leave
out time the scheduler gave to other processes on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from keyroute.core.chat import ChatRequest, Message, TextPart
from keyroute.router import Scorer

ROOT = Path(__file__).resolve().parents[1]


def prompt(chars: int) -> str:
    corpus = "\n\n".join(
        (ROOT / name).read_text(encoding="utf-8") for name in ("README.md", "ARCHITECTURE.md")
    )
    return (corpus * (chars // len(corpus) + 1))[:chars]


def percentiles(samples: list[int]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000  # noqa: E731
    return {"p50_us": pick(0.50), "p90_us": pick(0.90), "p99_us": pick(0.99), "max_us": pick(1.0)}


def request_of(chars: int) -> ChatRequest:
    return ChatRequest(
        model="auto",
        messages=(
            Message(role="system", content=(TextPart(text="You are a careful assistant."),)),
            Message(role="user", content=(TextPart(text=prompt(chars)),)),
        ),
        max_tokens=1024,
    )


def run(sizes: list[int], requests: int, rounds: int) -> list[dict[str, object]]:
    """Time ``requests`` calls per size in ``rounds`` interleaved rounds (every size takes its
    turn in each round), so a burst of load elsewhere on the machine hits every size alike."""
    scorer = Scorer.load()
    built = {chars: request_of(chars) for chars in sizes}
    for request in built.values():
        for _ in range(200):
            scorer.score(request)
    wall: dict[int, list[int]] = {chars: [] for chars in sizes}
    cpu: dict[int, list[int]] = {chars: [] for chars in sizes}
    per_round = max(1, requests // rounds)
    for _ in range(rounds):
        for chars, request in built.items():
            for _ in range(per_round):
                w0, c0 = time.perf_counter_ns(), time.thread_time_ns()
                scorer.score(request)
                cpu[chars].append(time.thread_time_ns() - c0)
                wall[chars].append(time.perf_counter_ns() - w0)
    return [
        {
            "chars": chars,
            "requests": len(wall[chars]),
            "rounds": rounds,
            "wall": percentiles(wall[chars]),
            "thread_cpu": percentiles(cpu[chars]),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "model": scorer.version,
        }
        for chars in sizes
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chars", type=int, nargs="+", default=[10_000, 1_000, 100_000])
    parser.add_argument("--requests", type=int, default=5000, help="calls per size")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    args = parser.parse_args()
    for line in run(args.chars, args.requests, args.rounds):
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
