"""Money: exact amounts in integer pico-dollars (10^-12 USD), never floats.

Why pico-dollars: provider prices are quoted in USD per million tokens with up to six decimal
places (``$0.0375`` per million is 37,500 pico-dollars per token), so every price is a whole
number of pico-dollars per token and the cost of a request is an exact integer sum. A signed
64-bit column holds about 9.2 million USD per row, far above any single request.

``Cost`` is what a request cost: at list price and as paid (after the workspace's negotiated
discount). ``None`` means the price is unknown (a model the catalogue does not price): such a
cost is recorded as unknown and flagged, never as zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

PICO_PER_USD = 10**12
_PICO = Decimal(PICO_PER_USD)


def usd_to_pico(amount: Decimal | str | int) -> int:
    """An exact USD amount (``Decimal("0.075")``) in pico-dollars; refuses sub-pico fractions."""
    value = Decimal(amount) * _PICO
    if value != value.to_integral_value():
        raise ValueError(f"{amount} USD is not a whole number of pico-dollars")
    return int(value)


def pico_to_usd(pico: int) -> Decimal:
    """Pico-dollars as an exact ``Decimal`` number of USD (``1500000000000`` -> ``1.5``)."""
    return (Decimal(pico) / _PICO).normalize() if pico else Decimal(0)


def usd_text(pico: int | None) -> str | None:
    """Pico-dollars as a plain decimal string (``"0.000123"``), for JSON and CSV; ``None`` stays."""
    if pico is None:
        return None
    return format(pico_to_usd(pico), "f")


def apply_discount(pico: int, percent: Decimal) -> int:
    """``pico`` less ``percent`` % (0 to 100), rounded half-even to the pico-dollar."""
    if not Decimal(0) <= percent <= Decimal(100):
        raise ValueError(f"a discount is a percentage from 0 to 100, not {percent}")
    paid = Decimal(pico) * (Decimal(100) - percent) / Decimal(100)
    return int(paid.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@dataclass(frozen=True, slots=True, kw_only=True)
class Cost:
    """The cost of one request. ``None`` amounts mean "price unknown", never zero.

    ``list_pico`` is at the catalogue's list price (or the workspace's override), ``paid_pico``
    after the workspace's negotiated discount. ``uncached_pico`` is what the same tokens would
    have cost with no prompt caching (for the caching saving); ``reference_pico`` what they
    would have cost at a routing policy's reference model (for the routing saving).
    """

    list_pico: int | None
    paid_pico: int | None
    uncached_pico: int | None = None
    reference_pico: int | None = None

    @property
    def known(self) -> bool:
        return self.paid_pico is not None and self.list_pico is not None


FREE = Cost(list_pico=0, paid_pico=0, uncached_pico=0)
"""A request that cost nothing (answered from the response cache, refused before sending)."""

UNKNOWN = Cost(list_pico=None, paid_pico=None)
"""A request whose model has no known price."""
