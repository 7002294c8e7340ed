"""``Redactor``: every provider key format, bearer tokens, JWTs, emails and Luhn-valid card
numbers are replaced; ordinary text, order numbers and timestamps are left alone."""

from __future__ import annotations

import pytest

from keyroute.audit.redact import Redactor, custom_rule

SECRETS = {
    "openai-key": "sk-proj-Ab3dEf6hIj9lMn2pQr5tUv8xYz1Ab4dEf7h",
    "anthropic-key": "sk-ant-api03-Ab3dEf6hIj9lMn2pQr5tUv8xYz1Ab4dEf7hIj0lMn3",
    "google-key": "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "groq-key": "gsk_Ab3dEf6hIj9lMn2pQr5tUv8xYz1Ab4d",
    "xai-key": "xai-Ab3dEf6hIj9lMn2pQr5tUv8xYz1Ab4d",
    "fireworks-key": "fw_Ab3dEf6hIj9lMn2pQr5tUv8xYz",
    "huggingface-token": "hf_Ab3dEf6hIj9lMn2pQr5tUv8xYz1A",
    "perplexity-key": "pplx-Ab3dEf6hIj9lMn2pQr5tUv8xYz1A",
    "replicate-token": "r8_Ab3dEf6hIj9lMn2pQr5tUv8xYz1A",
    "aws-access-key": "AKIAIOSFODNN7EXAMPLE",
    "keyroute-key": "kr-Ab3dEf6hIj9lMn2pQr5tUv8xYz1Ab4dEf7hIj0lMn3",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9",
    "bearer-token": "Bearer 7f3e9cAb3dEf6hIj9lMn",
    "email": "ada.lovelace+audit@example.co.uk",
    "card-number": "4111 1111 1111 1111",
}


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_each_default_rule_redacts_its_format(name: str) -> None:
    secret = SECRETS[name]
    out = Redactor().text(f"before {secret} after")
    assert secret not in out and out.endswith(" after")
    assert out.startswith(f"before [REDACTED:{name}]") or name == "bearer-token"
    assert Redactor().text(out) == out  # idempotent


@pytest.mark.parametrize(
    "text",
    [
        "order 1234 5678 9012 3456 shipped",  # 16 digits, not Luhn-valid
        "at 2026-12-03 10:42:54 UTC",
        "the sky is blue; sk-short",
        "an @mention and user@localhost",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor().text(text) == text


def test_card_numbers_with_dashes_are_caught() -> None:
    assert Redactor().text("card 5500-0000-0000-0004.") == "card [REDACTED:card-number]."


def test_nested_values_and_custom_rules() -> None:
    redactor = Redactor([custom_rule("employee-id", r"EMP-\d{6}")])
    value = {"a": ["mail bob@example.com", 3, None], "b": {"c": "id EMP-123456"}}
    assert redactor.value(value) == {
        "a": ["mail [REDACTED:email]", 3, None],
        "b": {"c": "id [REDACTED:employee-id]"},
    }


@pytest.mark.parametrize("pattern", ["(unclosed", "x*"])
def test_bad_custom_rules_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="pattern"):
        custom_rule("bad", pattern)
