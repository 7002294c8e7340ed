"""``keyroute.resilience.next_best``: the catalogue's closest reachable models."""

from __future__ import annotations

from datetime import date

from keyroute.catalogue import builtin
from keyroute.resilience.next_best import Need, next_best

DAY = date(2026, 12, 1)
CATALOGUE = builtin()


def best(ref: str, providers: set[str], need: Need | None = None) -> list[str]:
    entry = CATALOGUE.find(ref)
    assert entry is not None
    return next_best(CATALOGUE, entry, providers, need or Need(), day=DAY)


def test_only_reachable_providers_and_never_the_model_itself() -> None:
    found = best("openai/gpt-4o", {"openai", "anthropic"})
    assert found and "openai/gpt-4o" not in found
    assert {ref.split("/")[0] for ref in found} <= {"openai", "anthropic"}
    assert found[0].startswith("anthropic/")  # another provider first


def test_same_provider_when_it_is_the_only_one() -> None:
    found = best("openai/gpt-4o", {"openai"})
    assert found and all(ref.startswith("openai/") for ref in found)
    assert not any("embedding" in ref for ref in found)


def test_a_window_too_small_is_left_out() -> None:
    need = Need(tokens=900_000)
    for ref in best("openai/gpt-4o", {"openai", "anthropic", "gemini"}, need):
        entry = CATALOGUE.find(ref)
        assert entry is not None and entry.context_window >= 900_000


def test_capabilities_the_request_needs_are_kept() -> None:
    need = Need(capabilities=frozenset({"vision", "tools"}))
    for ref in best("openai/gpt-4o", {"openai", "anthropic", "gemini", "groq"}, need):
        entry = CATALOGUE.find(ref)
        assert entry is not None and entry.capabilities.vision and entry.capabilities.tools


def test_closest_price_first() -> None:
    entry = CATALOGUE.find("anthropic/claude-haiku-4-5")
    assert entry is not None
    found = next_best(CATALOGUE, entry, {"anthropic"}, Need(), day=DAY, limit=10)
    from keyroute.resilience.next_best import blended_price

    base = blended_price(entry, DAY)
    assert base is not None
    import math

    gaps = [abs(math.log((blended_price(CATALOGUE.find(r), DAY) or 0) / base)) for r in found]  # type: ignore[arg-type]
    assert gaps == sorted(gaps)
