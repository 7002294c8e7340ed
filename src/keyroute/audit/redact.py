"""``Redactor``: the one list of what the audit log never stores in clear text.

Every value the audit log takes from outside (admin events' old and new values and details)
passes through ``Redactor.text`` or ``Redactor.value`` first.

Invariants:
- ``DEFAULT_RULES`` is the single list: API keys and tokens of every provider format keyroute
  speaks to or hands out (OpenAI, Anthropic, Google, Groq, xAI, Fireworks, Hugging Face,
  Perplexity, Replicate, AWS access keys, keyroute's own gateway and admin keys), bearer tokens
  and JWTs, email addresses, and payment card numbers (13 to 19 digits, spaces or dashes allowed,
  that pass the Luhn check: order numbers and timestamps are left alone).
- A match is replaced by ``[REDACTED:<rule>]``; redaction is idempotent (its output holds no match).
- Extra rules are regular expressions, checked when added (a pattern that does not compile, or
  that matches the empty string, is refused with ``ValueError``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_KEY_BODY = r"[A-Za-z0-9_\-]"


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    pattern: re.Pattern[str]


def _rule(name: str, pattern: str, flags: int = 0) -> Rule:
    return Rule(name, re.compile(pattern, flags))


DEFAULT_RULES: tuple[Rule, ...] = (
    _rule("anthropic-key", rf"\bsk-ant-(?:api|admin|oat)\d{{2}}-{_KEY_BODY}{{20,}}"),
    _rule("openai-key", rf"\bsk-(?:proj-|svcacct-|admin-|None-)?{_KEY_BODY}{{20,}}"),
    _rule("google-key", rf"\bAIza{_KEY_BODY}{{35}}"),
    _rule("groq-key", r"\bgsk_[A-Za-z0-9]{20,}"),
    _rule("xai-key", r"\bxai-[A-Za-z0-9]{20,}"),
    _rule("fireworks-key", r"\bfw_[A-Za-z0-9]{20,}"),
    _rule("huggingface-token", r"\bhf_[A-Za-z0-9]{20,}"),
    _rule("perplexity-key", r"\bpplx-[A-Za-z0-9]{20,}"),
    _rule("replicate-token", r"\br8_[A-Za-z0-9]{20,}"),
    _rule("aws-access-key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    _rule("keyroute-key", rf"\bkr[ka]?-{_KEY_BODY}{{20,}}"),
    _rule("jwt", rf"\beyJ{_KEY_BODY}{{8,}}\.eyJ{_KEY_BODY}{{8,}}\.{_KEY_BODY}{{8,}}"),
    _rule("bearer-token", r"(?i)\bbearer\s+[A-Za-z0-9._~+/\-]{8,}=*"),
    _rule("email", r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}\b"),
)
_CARD = re.compile(r"(?<![\d-])\d(?:[ \-]?\d){12,18}(?![\d-])")


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"[ \-]", "", match.group(0))
    return "[REDACTED:card-number]" if _luhn(digits) else match.group(0)


def custom_rule(name: str, pattern: str) -> Rule:
    """A workspace-defined rule; ``ValueError`` when it does not compile or matches nothing."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"the pattern {pattern!r} is not a regular expression: {exc}") from None
    if compiled.fullmatch(""):
        raise ValueError(f"the pattern {pattern!r} matches the empty string")
    return Rule(name, compiled)


class Redactor:
    def __init__(self, extra: Iterable[Rule] = ()) -> None:
        self._rules = (*DEFAULT_RULES, *extra)

    def text(self, value: str) -> str:
        for rule in self._rules:
            value = rule.pattern.sub(f"[REDACTED:{rule.name}]", value)
        return _CARD.sub(_card, value)

    def value(self, value: object) -> object:
        """``value`` with every string in it (nested in dicts and lists too) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value
