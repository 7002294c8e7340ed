"""Durations as people write them: ``90s``, ``15m``, ``1h``, ``7d``, ``1h30m``."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_duration(text: str, *, what: str = "duration") -> int:
    """Seconds in ``text``; ``ValueError`` naming ``what`` when it is not a duration."""
    cleaned = text.strip().lower()
    parts = _PART.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise ValueError(f"{what} {text!r} is not a duration like 90s, 15m, 1h or 7d")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"{what} {text!r} must be longer than zero")
    return seconds


def format_duration(seconds: int) -> str:
    """The shortest of ``d``/``h``/``m``/``s`` parts: 900 -> ``15m``, 5400 -> ``1h30m``."""
    if seconds <= 0:
        return "0s"
    out = []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)
