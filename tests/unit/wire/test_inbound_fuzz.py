"""Any bytes a client sends are a request or an ``InvalidRequest``, never another error; and any
request that decodes is an upstream body or a 400 for every provider.

Hypothesis builds JSON documents shaped like the real requests (right keys, wrong values), and
raw bytes, and feeds them to every inbound decoder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from keyroute.core.chat import ChatRequest
from keyroute.core.errors import InvalidRequest
from keyroute.core.secret import Secret
from keyroute.providers import registry
from keyroute.providers.base import Target
from keyroute.wire.anthropic import decode_request as decode_anthropic
from keyroute.wire.openai.embeddings import decode_embeddings_request
from keyroute.wire.openai.request import decode_request as decode_openai

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "text",
                    "role",
                    "content",
                    "name",
                    "id",
                    "input",
                    "source",
                    "image_url",
                    "url",
                    "tool_calls",
                    "function",
                    "arguments",
                    "tool_use_id",
                    "tool_call_id",
                    "data",
                    "media_type",
                    "schema",
                    "json_schema",
                    "properties",
                    "cache_control",
                    "thinking",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
roles = st.sampled_from(["system", "developer", "user", "assistant", "tool", "function", "x"])
messages = st.lists(
    st.fixed_dictionaries(
        {"role": roles},
        optional={
            "content": json_values,
            "tool_calls": json_values,
            "tool_call_id": json_values,
            "name": json_values,
        },
    ),
    max_size=3,
)
request_fields = {
    "model": st.sampled_from(["demo/fast", "", 3, None]) | json_values,
    "messages": messages | json_values,
    "max_tokens": json_values,
    "temperature": json_values,
    "stream": json_values,
    "tools": json_values,
    "tool_choice": json_values,
    "response_format": json_values,
    "stop": json_values,
    "system": json_values,
    "stop_sequences": json_values,
    "metadata": json_values,
    "n": json_values,
    "stream_options": json_values,
    "input": json_values,
    "thinking": json_values,
    "output_config": json_values,
}
requests = st.fixed_dictionaries({}, optional=request_fields)
DECODERS: list[Callable[[bytes], Any]] = [
    decode_openai,
    decode_anthropic,
    decode_embeddings_request,
]


PROVIDERS = [registry.create(name) for name in ("openai", "mistral", "anthropic", "gemini")]


def check(body: bytes) -> None:
    for decode in DECODERS:
        try:
            decoded = decode(body)
        except InvalidRequest:
            continue
        if isinstance(decoded, ChatRequest):
            for provider in PROVIDERS:
                target = Target(provider=provider.name, model="m", base_url="https://x.test")
                try:
                    provider.build_request(decoded, target, Secret("k"))
                except InvalidRequest:  # UnsupportedFeature included
                    pass


@settings(max_examples=300, deadline=None)
@given(requests)
def test_shaped_documents_never_crash(document: dict[str, Any]) -> None:
    check(msgspec.json.encode(document))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64) | json_values.map(msgspec.json.encode))
def test_arbitrary_bytes_never_crash(body: bytes) -> None:
    check(body)


def test_deep_nesting_is_refused_cleanly() -> None:
    check(b'{"model":"m","messages":' + b"[" * 5000 + b"]" * 5000 + b"}")


def test_invalid_utf8_inside_a_string_is_refused_cleanly() -> None:
    """msgspec raises ``UnicodeDecodeError`` (not ``DecodeError``) for these bytes."""
    check(b'{"model":"m","messages":[{"role":"user","content":"\xff\xfe"}],"input":"\xc3"}')
    check(b'{"model":"\xed\xa0\x80"}')  # an encoded surrogate
