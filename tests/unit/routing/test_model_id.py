"""``keyroute.routing.model_id.check_model_id``: which model ids are accepted, and the errors."""

from __future__ import annotations

import pytest

from keyroute.core.errors import InvalidRequest
from keyroute.routing.model_id import MAX_MODEL_ID_LENGTH, check_model_id

VALID = [
    "openai/gpt-4o-mini",
    "gpt-4o",
    "ollama/llama3.1:8b",
    "fireworks/accounts/fireworks/models/llama-v3p1-70b-instruct",
    "anthropic/claude-sonnet-4-5@20250929",
    "openai/ft:gpt-4o-mini-2024-07-18:org::abc123",
    "ollama/hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
    "together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "openrouter/~anthropic/claude-sonnet:beta",
    "vllm//data/models/llama",
    "a",
    "x" * MAX_MODEL_ID_LENGTH,
    "demo/fast.v2",
    "m/a+b",
]


@pytest.mark.parametrize("model", VALID)
def test_real_model_ids_pass(model: str) -> None:
    assert check_model_id(model) == model


INVALID = [
    ("", "empty"),
    ("x" * (MAX_MODEL_ID_LENGTH + 1), "257 characters is too long"),
    ("x" * 100_000, "100000 characters is too long"),
    ("openai/gpt-4о", "U+043E at position 12"),  # Cyrillic o
    ("openai/gpt-4o\U0001f600", "U+1F600 at position 13"),
    ("ｏｐｅｎａｉ/gpt", "U+FF4F at position 0"),  # fullwidth
    ("openai/gpt\r\nx-evil: 1", "U+000D at position 10"),
    ("openai/gpt\x00", "U+0000 at position 10"),
    ("openai/gpt 4o", "U+0020 at position 10"),
    ("openai/gpt%0d", "U+0025 at position 10"),
    ("gemini/x?key=1", "U+003F at position 8"),
    ("gemini/x#frag", "U+0023 at position 8"),
    ('openai/"gpt"', "U+0022 at position 7"),
    ("openai\\gpt", "U+005C at position 6"),
    ("gemini/../../v1/files", "'.' or '..'"),
    ("gemini/models/..", "'.' or '..'"),
    ("./gpt", "'.' or '..'"),
    ("openai/./gpt", "'.' or '..'"),
    ("openai/gpt\u200b", "U+200B at position 10"),  # zero-width space
    ("openai/gpt\x7f", "U+007F at position 10"),
]


@pytest.mark.parametrize(("model", "fragment"), INVALID, ids=[f for _, f in INVALID])
def test_bad_model_ids_are_a_400_naming_model(model: str, fragment: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        check_model_id(model)
    assert info.value.status == 400
    assert info.value.param == "model"
    assert fragment in info.value.message
    assert model not in info.value.message or not model  # never echoed


def test_the_param_name_can_be_chosen() -> None:
    with pytest.raises(InvalidRequest) as info:
        check_model_id("a b", param="target")
    assert info.value.param == "target"


def test_dots_inside_a_segment_are_fine() -> None:
    assert check_model_id("ollama/llama3.1..q4") == "ollama/llama3.1..q4"
    assert check_model_id("x/...") == "x/..."
