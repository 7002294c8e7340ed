"""The rules every governance value passes before it is stored, for the CLI and the admin API.

Each check takes the user's value as given (text from a flag, a JSON number or string) and
returns the stored form, or raises ``InvalidRequest`` naming the field (``param``) and the bad
value, escaped. Nothing is rounded, clamped or silently defaulted.

Decisions:

- Money is USD with at most 12 decimal places (whole pico-dollars), from 0 to
  ``MAX_BUDGET_USD``; a cap of 0 allows no priced request at all.
- A daily cap above the monthly cap is refused: it could never apply, so it is most likely a
  typing mistake (two flags swapped).
- Rate limits are at least 1 per minute (a limit of 0 would refuse every request; clear the
  budget or set a 0 USD cap to stop a key instead).
- A quota is a whole number from 0 (a suspended workspace) to ``MAX_QUOTA``, or ``unlimited``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from keyroute.admission.policy import DEFAULT_THRESHOLDS as DEFAULT_THRESHOLDS
from keyroute.core.errors import InvalidRequest
from keyroute.core.money import PICO_PER_USD

MAX_BUDGET_USD = 9_000_000  # a signed 64-bit count of pico-dollars holds about 9.2 million USD
MAX_QUOTA = 10**12
MAX_PER_MINUTE = 10**12
MAX_TAG = 256  # ``accounting.usage_row.MAX_TAG``: a longer tag is not kept as sent
UNLIMITED = "unlimited"
DEFAULT_TIMEZONE = "UTC"


def _shown(value: object) -> str:
    return ascii(value if not isinstance(value, str) else value[:80])


def usd(value: object, param: str) -> int:
    """A USD amount (``"12.5"``, ``12.5`` as JSON, ``"0"``) in whole pico-dollars."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise InvalidRequest(f"'{param}' must be an amount of USD such as 25.50.", param=param)
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidRequest(
            f"Invalid amount {_shown(value)} for '{param}': use USD such as 25.50.", param=param
        ) from None
    if not amount.is_finite():
        raise InvalidRequest(f"'{param}' must be a finite amount of USD.", param=param)
    if amount < 0:
        raise InvalidRequest(f"'{param}' cannot be negative ({amount} USD).", param=param)
    if amount > MAX_BUDGET_USD:
        raise InvalidRequest(
            f"'{param}' is at most {MAX_BUDGET_USD:,} USD, not {amount}.", param=param
        )
    pico = amount * PICO_PER_USD
    if pico != pico.to_integral_value():
        raise InvalidRequest(f"'{param}' has more than 12 decimal places ({amount}).", param=param)
    return int(pico)


def _whole(value: object, param: str, *, low: int, high: int, what: str) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not low <= number <= high:
        raise InvalidRequest(
            f"Invalid {what} {_shown(value)} for '{param}': use a whole number from {low:,} "
            f"to {high:,}.",
            param=param,
        )
    return number


def per_minute(value: object, param: str) -> int:
    """A requests- or tokens-per-minute limit: a whole number, at least 1."""
    return _whole(value, param, low=1, high=MAX_PER_MINUTE, what="rate limit")


def quota(value: object, param: str = "quota") -> int | None:
    """A custom monthly request quota: a whole number, or ``unlimited`` (``None``)."""
    if isinstance(value, str) and value.strip().lower() == UNLIMITED:
        return None
    return _whole(value, param, low=0, high=MAX_QUOTA, what="quota (or 'unlimited')")


def timezone(value: object, param: str = "timezone") -> str:
    """An IANA time zone name (``Europe/Paris``, ``UTC``), as the system's database has it."""
    if not isinstance(value, str) or not value or len(value) > 64 or not value.isprintable():
        raise InvalidRequest(
            f"Invalid time zone {_shown(value)}: use an IANA name such as Europe/Paris.",
            param=param,
        )
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidRequest(
            f"Unknown time zone {_shown(value)}: use an IANA name such as Europe/Paris "
            "(case matters).",
            param=param,
        ) from None
    return value


def end_user(value: object, param: str = "user") -> str:
    """An end-user tag as clients send it (OpenAI ``user``, ``x-keyroute-user``...)."""
    if not isinstance(value, str) or not value or len(value) > MAX_TAG:
        raise InvalidRequest(
            f"Invalid end-user tag {_shown(value)}: use 1 to {MAX_TAG} characters.", param=param
        )
    if not value.isprintable():
        raise InvalidRequest(
            f"The end-user tag {_shown(value)} has a control character.", param=param
        )
    return value


def thresholds(value: object, param: str = "thresholds") -> tuple[int, ...]:
    """Alert thresholds in percent of a cap: ``"50,80,100"`` or ``[50, 80, 100]``, increasing,
    each from 1 to 100."""
    parts: list[object]
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
    elif isinstance(value, list):
        parts = list(value)
    else:
        parts = [value]
    found = tuple(_whole(p, param, low=1, high=100, what="threshold") for p in parts)
    if not found or list(found) != sorted(set(found)):
        raise InvalidRequest(
            f"'{param}' are increasing percentages such as 50,80,100, not {_shown(value)}.",
            param=param,
        )
    return found


def caps(
    daily_pico: int | None,
    monthly_pico: int | None,
    *,
    daily: tuple[str, str] = ("daily", "--daily"),
    monthly: tuple[str, str] = ("monthly", "--monthly"),
) -> None:
    """A budget's two caps together: at least one, and the daily cap not above the monthly.
    ``daily`` and ``monthly`` are how the caller names the two fields: (param, label)."""
    if daily_pico is None and monthly_pico is None:
        raise InvalidRequest(
            f"A budget needs a daily cap, a monthly cap or both ({daily[1]}, {monthly[1]}).",
            param=daily[0],
        )
    if daily_pico is not None and monthly_pico is not None and daily_pico > monthly_pico:
        raise InvalidRequest(
            "The daily cap is above the monthly cap, so it could never apply: "
            f"check {daily[1]} and {monthly[1]}.",
            param=daily[0],
        )
