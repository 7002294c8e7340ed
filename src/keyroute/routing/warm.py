"""Cache-aware routing: a conversation stays on the model whose prompt cache holds its prefix,
unless another candidate is confidently cheaper even after losing the cache discount.

The router first makes its quality decision (the threshold ladder, ``ladder``); then, when the
conversation is warm on some candidates (``core.cache_warmth.CacheWarmth``, noted from the cache
reads and writes providers reported), ``choose`` compares the expected cost of this turn:

- on a warm candidate, the warm tokens at its cached-input price, the rest of the prompt at its
  input price (or its cache-write price, where the provider bills writes: the new turns are
  written as the cache moves forward), and the expected answer at its output price;
- on a cold candidate, the whole prompt at its input price, or at its cache-write price where
  the provider bills writes and the prompt reaches its minimum cacheable length, and the answer.

Prices are the catalogue's list prices on the day, in the band the prompt's length selects.
The expected answer is the mean length of the conversation's earlier answers (``max_tokens`` caps
it). "Confidently cheaper" means cheaper for any answer from half to twice that length.

The outcomes:

- ``warm``: the quality decision's model is itself warm; nothing changes.
- ``stay``: a warm candidate at least as strong as the quality decision asks for is kept, since
  the quality decision's model is not confidently cheaper once the discount is lost.
- ``move``: the quality decision's model is confidently cheaper even without the discount.
- ``upgrade``: the conversation is warm only on candidates weaker than the request needs; the
  quality decision wins and the discount is lost.

Candidates are ordered cheapest to strongest, so a later candidate is taken to be at least as
capable as an earlier one: staying on a stronger warm model never lowers quality.
A model without a catalogue price cannot be priced: the conversation then stays where it is warm.

Invariant: pure CPU, no I/O; called only when the conversation is warm somewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from keyroute.catalogue.entries import ModelEntry, PriceBand
from keyroute.core.chat import ChatRequest, TextPart

Outcome = Literal["warm", "stay", "move", "upgrade"]
FIRST_ANSWER_TOKENS = 300  # the expected answer when the conversation has none yet
_MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True, kw_only=True)
class Option:
    """One remaining candidate, as the cost estimate sees it."""

    model: str  # the model id the client sees
    entry: ModelEntry | None  # the catalogue's facts, None for a model it does not know
    warm: int  # prompt tokens its cache is expected to cover (0: cold)
    writes: bool  # a cold prompt here is written to the cache at the write price


@dataclass(frozen=True, slots=True, kw_only=True)
class WarmChoice:
    """The cache's say in the decision."""

    index: int  # the candidate chosen (an index into the options)
    outcome: Outcome
    warm_model: str  # the warm candidate considered
    warm_tokens: int
    costs: tuple[tuple[str, Decimal | None], ...]  # (model, expected USD of this turn)
    reason: str

    def record(self) -> dict[str, object]:
        return {
            "outcome": self.outcome,
            "warm_model": self.warm_model,
            "warm_tokens": self.warm_tokens,
            "estimated_usd": {
                model: None if cost is None else float(round(cost, 8)) for model, cost in self.costs
            },
        }


def expected_output(request: ChatRequest) -> int:
    """The expected length of this answer: the mean of the conversation's earlier answers
    (about four characters a token), capped by ``max_tokens``."""
    answers = chars = 0
    for message in request.messages:
        if message.role == "assistant":
            answers += 1
            for part in message.content:
                if isinstance(part, TextPart):
                    chars += len(part.text)
            for call in message.tool_calls:
                chars += len(call.name) + len(call.arguments)
    tokens = max(1, (chars + 3) // 4 // answers) if answers else FIRST_ANSWER_TOKENS
    if request.max_tokens is not None:
        tokens = min(tokens, request.max_tokens)
    return tokens


def _write_price(band: PriceBand, ttl: str) -> Decimal | None:
    if band.cache_write is not None:
        return band.cache_write
    return band.cache_write_1h if ttl == "1h" else band.cache_write_5m


@dataclass(frozen=True, slots=True)
class _Cost:
    """A turn's expected cost on one candidate, as a function of the answer's length."""

    prompt: Decimal  # USD per million tokens: the whole prompt
    output: Decimal  # USD per million tokens: per answer token

    def at(self, output: int) -> Decimal:
        """USD per million tokens' prices: compare these; ``usd`` converts for display."""
        return self.prompt + output * self.output

    def usd(self, output: int) -> Decimal:
        return self.at(output) / _MILLION


def _cost(option: Option, *, prompt: int, day: date, ttl: str) -> _Cost | None:
    entry = option.entry
    sheet = entry.sheet_at(day) if entry is not None else None
    if entry is None or sheet is None:
        return None
    band = sheet.band_for(prompt)
    write = _write_price(band, ttl) if option.writes else None
    if option.warm > 0:
        warm = min(option.warm, prompt)
        read = band.cached_input if band.cached_input is not None else band.input
        fresh = write if write is not None else band.input
        paid = warm * read + (prompt - warm) * fresh
    else:
        minimum = entry.capabilities.min_cacheable_tokens or 0
        cached = write is not None and prompt >= minimum
        paid = prompt * (write if cached and write is not None else band.input)
    return _Cost(paid, band.output)


def estimate(option: Option, *, prompt: int, output: int, day: date, ttl: str) -> Decimal | None:
    """The expected USD of this turn on ``option`` (None: the catalogue has no price)."""
    cost = _cost(option, prompt=prompt, day=day, ttl=ttl)
    return None if cost is None else cost.usd(output)


def _cheaper(a: _Cost | None, b: _Cost | None, output: int) -> bool:
    """Whether ``a`` costs less than ``b`` for any answer from half to twice ``output``
    (costs are linear in the answer's length: the two ends decide)."""
    if a is None or b is None:
        return False
    return all(a.at(tokens) < b.at(tokens) for tokens in (output // 2, output * 2))


def choose(
    options: Sequence[Option],
    quality: int,
    *,
    prompt: int,
    output: int,
    day: date,
    ttl: str,
) -> WarmChoice | None:
    """The cache's say on the candidate ``quality`` (the quality decision's index); None when
    the conversation is cold on every candidate."""
    warm = [i for i, o in enumerate(options) if o.warm > 0]
    if not warm:
        return None
    chosen = options[quality]
    prompt = max(prompt, max(options[i].warm for i in warm))
    costs: dict[int, _Cost | None] = {}

    def cost(index: int) -> _Cost | None:
        if index not in costs:
            costs[index] = _cost(options[index], prompt=prompt, day=day, ttl=ttl)
        return costs[index]

    def usd(*indices: int) -> tuple[tuple[str, Decimal | None], ...]:
        priced = ((options[i].model, cost(i)) for i in indices)
        return tuple((model, None if c is None else c.usd(output)) for model, c in priced)

    if chosen.warm > 0:
        return WarmChoice(
            index=quality,
            outcome="warm",
            warm_model=chosen.model,
            warm_tokens=chosen.warm,
            costs=usd(quality),
            reason=f"its prompt cache holds the conversation's prefix ({chosen.warm} tokens)",
        )
    allowed = [i for i in warm if i > quality]
    if not allowed:
        nearest = warm[-1]
        return WarmChoice(
            index=quality,
            outcome="upgrade",
            warm_model=options[nearest].model,
            warm_tokens=options[nearest].warm,
            costs=usd(quality, nearest),
            reason=f"the conversation is warm on {options[nearest].model}, but the request needs "
            "a stronger model: the cache discount is given up",
        )
    known = [(c.at(output), i) for i in allowed if (c := cost(i)) is not None]
    best = min(known)[1] if known else allowed[0]
    stay = options[best]
    if _cheaper(cost(quality), cost(best), output):
        return WarmChoice(
            index=quality,
            outcome="move",
            warm_model=stay.model,
            warm_tokens=stay.warm,
            costs=usd(quality, best),
            reason=f"cheaper than {stay.model}, where the conversation is warm "
            f"({stay.warm} tokens), even after losing the cache discount",
        )
    return WarmChoice(
        index=best,
        outcome="stay",
        warm_model=stay.model,
        warm_tokens=stay.warm,
        costs=usd(quality, best),
        reason=f"the conversation's prefix is warm on {stay.model} ({stay.warm} tokens): with "
        f"the cache discount {chosen.model} is not confidently cheaper, so it stays",
    )
