"""The OpenAI-compatible data plane through the official ``openai`` SDK, over real sockets."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.fakes.fake_openai import UPSTREAM_KEY, FakeOpenAI, Reply, chunk, completion, error_body
from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def client(gw: Gateway, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key or gw.api_key, max_retries=0)


def with_openai_key(gw: Gateway, base_url: str) -> None:
    gw.control(lambda c: c.add_provider_key("default", "openai", UPSTREAM_KEY, base_url=base_url))


def test_demo_answers_without_any_provider_key(gateway: Gateway) -> None:
    reply = client(gateway).chat.completions.create(
        model="demo/fast", messages=[{"role": "user", "content": "Hello there"}]
    )
    assert reply.choices[0].message.content.startswith("[demo]")
    assert reply.model == "demo/fast"
    assert reply.usage is not None and reply.usage.prompt_tokens > 0
    assert reply.choices[0].finish_reason == "stop"


def test_demo_streams_with_usage(gateway: Gateway) -> None:
    stream = client(gateway).chat.completions.create(
        model="demo/smart",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("[demo]")
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_openai_provider_non_streaming(
    gateway: Gateway, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    fake, base = fake_openai
    with_openai_key(gateway, base)
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="openai/gpt-4o-mini",
        temperature=0.2,
        max_tokens=50,
        user="u-1",
        stop=["END"],
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    )
    reply = raw.parse()
    assert isinstance(reply, ChatCompletion)
    assert reply.choices[0].message.content == "Hello from the fake upstream."
    assert reply.model == "openai/gpt-4o-mini"
    assert reply.usage is not None and reply.usage.prompt_tokens_details is not None
    assert reply.usage.prompt_tokens_details.cached_tokens == 4
    assert raw.headers["x-request-id"].startswith("req_")
    assert float(raw.headers["x-keyroute-overhead-ms"]) >= 0
    sent = fake.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert sent.body["model"] == "gpt-4o-mini"
    assert sent.body["temperature"] == 0.2 and sent.body["user"] == "u-1"
    assert sent.body["stop"] == ["END"] and sent.body["max_tokens"] == 50  # as the client sent it


def test_streamed_tool_calls_reassemble_exactly(
    gateway: Gateway, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    fake, base = fake_openai
    with_openai_key(gateway, base)
    args_a, args_b = '{"city": "Paris"}', '{"city": "Rome"}'
    fake.push(
        Reply.stream(
            [
                chunk({"role": "assistant", "content": None}),
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_a",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": ""},
                            }
                        ]
                    }
                ),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": args_a[:7]}}]}),
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": args_a[7:]}}]}),
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 1,
                                "id": "call_b",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": args_b},
                            }
                        ]
                    }
                ),
                chunk({}, "tool_calls"),
                chunk(
                    None, usage={"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50}
                ),
                "[DONE]",
            ]
        )
    )
    with client(gateway).chat.completions.stream(
        model="openai/gpt-4o-mini",
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "Weather in Paris and Rome?"}],
        stream_options={"include_usage": True},
    ) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_a", "get_weather", args_a),
        ("call_b", "get_weather", args_b),
    ]
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage is not None and final.usage.total_tokens == 50


def test_tool_round_trip_and_images_reach_upstream(
    gateway: Gateway, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    fake, base = fake_openai
    with_openai_key(gateway, base)
    client(gateway).chat.completions.create(
        model="openai/gpt-4o-mini",
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        response_format={"type": "json_object"},
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 18}'},
        ],
    )
    body = fake.requests[-1].body
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][0]["content"][1]["image_url"]["url"].startswith("data:image/png")
    assert body["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"city":"Paris"}'
    assert body["messages"][2] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": '{"temp_c": 18}',
    }


def test_unknown_fields_pass_through_to_openai(
    gateway: Gateway, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    fake, base = fake_openai
    with_openai_key(gateway, base)
    client(gateway).chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "x"}],
        logprobs=True,
        top_logprobs=2,
        extra_body={"service_tier": "flex"},
    )
    body = fake.requests[-1].body
    assert body["logprobs"] is True and body["top_logprobs"] == 2
    assert body["service_tier"] == "flex"


@pytest.mark.parametrize(
    ("reply", "status", "sdk_error"),
    [
        (
            Reply.json(
                429,
                error_body("Slow down", "rate_limit_error", "rate_limit_exceeded"),
                {"retry-after": "7"},
            ),
            429,
            openai.RateLimitError,
        ),
        (
            Reply.json(400, error_body("bad temperature", "invalid_request_error")),
            400,
            openai.BadRequestError,
        ),
        (Reply.json(500, error_body("boom", "server_error")), 502, openai.InternalServerError),
        (Reply.json(503, {"error": "overloaded"}), 503, openai.InternalServerError),
    ],
)
def test_upstream_errors_are_mapped_faithfully(
    gateway: Gateway,
    fake_openai: tuple[FakeOpenAI, str],
    reply: Reply,
    status: int,
    sdk_error: type[Exception],
) -> None:
    fake, base = fake_openai
    with_openai_key(gateway, base)
    fake.push(reply, reply, reply)  # a transient error is retried twice before it is mapped
    with pytest.raises(sdk_error) as info:
        client(gateway).chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
    err = info.value
    assert isinstance(err, openai.APIStatusError)
    assert err.status_code == status
    assert "x-request-id" in err.response.headers
    # 500 and 503 are retried; a bad request and a retry-after past the cap (7 s) are not.
    tries = 3 if status in (502, 503) else 1
    assert err.response.headers["x-keyroute-attempts"] == str(tries)
    assert len(fake.requests) == tries
    if status == 429:
        assert err.response.headers["retry-after"] == "7"


def test_wrong_provider_key_is_reported_without_leaking_it(
    gateway: Gateway, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    fake, base = fake_openai
    gateway.control(
        lambda c: c.add_provider_key("default", "openai", "sk-wrong-key-123456789", base_url=base)
    )
    with pytest.raises(openai.AuthenticationError) as info:
        client(gateway).chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
    assert "sk-wrong-key-123456789" not in info.value.response.text
    assert "openai" in info.value.response.text


def post(gw: Gateway, body: bytes | str, key: str | None = None, **headers: str) -> httpx.Response:
    return httpx.post(
        gw.url + "/v1/chat/completions",
        content=body,
        timeout=10,
        headers={
            "authorization": f"Bearer {key or gw.api_key}",
            "content-type": "application/json",
            **headers,
        },
    )


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ("{not json", 400, None),
        ("[]", 400, None),
        ('{"messages": [{"role": "user", "content": "x"}]}', 400, "model"),
        ('{"model": "demo/fast"}', 400, "messages"),
        (
            '{"model": "demo/fast", "messages": [{"role": "user", "content": 5}]}',
            400,
            "messages[0].content",
        ),
        (
            '{"model": "demo/fast", "messages": [{"role": "wizard", "content": "x"}]}',
            400,
            "messages[0].role",
        ),
        (
            '{"model": "demo/fast", "temperature": 3, '
            '"messages": [{"role": "user", "content": "x"}]}',
            400,
            "temperature",
        ),
        (
            '{"model": "demo/fast", "n": 2, "messages": [{"role": "user", "content": "x"}]}',
            400,
            "n",
        ),
        ('{"model": "nope", "messages": [{"role": "user", "content": "x"}]}', 404, "model"),
        ('{"model": "acme/x", "messages": [{"role": "user", "content": "x"}]}', 404, "model"),
    ],
)
def test_bad_requests_get_openai_errors(
    gateway: Gateway, body: str, status: int, param: str | None
) -> None:
    resp = post(gateway, body)
    assert resp.status_code == status
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == param
    assert "Traceback" not in resp.text


def test_missing_provider_key_says_how_to_add_one(gateway: Gateway) -> None:
    resp = post(
        gateway,
        json.dumps(
            {"model": "anthropic/claude-sonnet-5-5", "messages": [{"role": "user", "content": "x"}]}
        ),
    )
    assert resp.status_code == 400
    assert "keyroute provider-key add --workspace default --provider anthropic" in resp.text


def test_bad_gateway_key_is_401(gateway: Gateway) -> None:
    with pytest.raises(openai.AuthenticationError):
        client(gateway, key="kr-not-a-real-key").chat.completions.create(
            model="demo/fast", messages=[{"role": "user", "content": "x"}]
        )
    resp = httpx.post(gateway.url + "/v1/chat/completions", json={}, timeout=10)
    assert resp.status_code == 401 and resp.json()["error"]["type"] == "authentication_error"


def test_body_over_limit_is_413(gateway: Gateway) -> None:
    big = json.dumps(
        {"model": "demo/fast", "messages": [{"role": "user", "content": "x" * (11 * 1024 * 1024)}]}
    )
    resp = post(gateway, big)
    assert resp.status_code == 413
    assert resp.json()["error"]["code"] == "payload_too_large"


def test_unknown_path_and_method_answer_json(gateway: Gateway) -> None:
    resp = httpx.get(gateway.url + "/v1/nothing-here", timeout=10)
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    resp = httpx.get(
        gateway.url + "/v1/chat/completions",
        timeout=10,
        headers={"authorization": f"Bearer {gateway.api_key}"},
    )
    assert resp.status_code == 405 and "error" in resp.json()


def test_stream_chunks_validate_and_end_with_done(
    gateway: Gateway, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    fake, base = fake_openai
    with_openai_key(gateway, base)
    with httpx.stream(
        "POST",
        gateway.url + "/v1/chat/completions",
        timeout=10,
        json={
            "model": "openai/gpt-4o-mini",
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "x"}],
        },
        headers={"authorization": f"Bearer {gateway.api_key}"},
    ) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert "x-keyroute-overhead-ms" in resp.headers
        lines = [line for line in resp.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [ChatCompletionChunk.model_validate_json(line[6:]) for line in lines[:-1]]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello there!"


def test_truncated_upstream_stream_ends_with_an_error_event(
    gateway: Gateway, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    fake, base = fake_openai
    with_openai_key(gateway, base)
    fake.push(
        Reply.stream(
            [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hi"}), "[DONE]"],
            cut=True,
        )
    )
    stream = client(gateway).chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}], stream=True
    )
    with pytest.raises(openai.APIError):
        list(stream)


@pytest.mark.parametrize("leave_after", ["w2", None])
def test_client_disconnect_cancels_the_upstream_stream(
    gateway: Gateway, fake_openai: tuple[FakeOpenAI, str], leave_after: str | None
) -> None:
    """Leaving mid-stream, or right after the head before any chunk, stops the upstream."""
    fake, base = fake_openai
    with_openai_key(gateway, base)
    events = (
        [chunk({"role": "assistant", "content": ""})]
        + [chunk({"content": f"w{i} "}) for i in range(200)]
        + [chunk({}, "stop"), "[DONE]"]
    )
    fake.push(Reply.stream(events, delay=0.02 if leave_after else 0.5))
    with httpx.stream(
        "POST",
        gateway.url + "/v1/chat/completions",
        timeout=10,
        json={
            "model": "openai/gpt-4o-mini",
            "stream": True,
            "messages": [{"role": "user", "content": "x"}],
        },
        headers={"authorization": f"Bearer {gateway.api_key}"},
    ) as resp:
        assert resp.status_code == 200
        if leave_after is not None:
            for line in resp.iter_lines():
                if leave_after in line:
                    break
    for _ in range(100):
        if fake.cancelled:
            break
        time.sleep(0.05)
    assert fake.cancelled == 1


def test_models_lists_what_the_workspace_can_reach(
    gateway: Gateway, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    ids = {m.id for m in client(gateway).models.list()}
    assert "demo/fast" in ids and not any(i.startswith("openai/") for i in ids)
    with_openai_key(gateway, fake_openai[1])
    gateway.control(lambda c: c.set_alias("default", "cheap", "openai/gpt-4o-mini"))
    ids = {m.id for m in client(gateway).models.list()}
    assert {"openai/gpt-4o-mini", "demo/fast", "cheap"} <= ids
    assert client(gateway).models.retrieve("openai/gpt-4o-mini").id == "openai/gpt-4o-mini"


def test_alias_resolves_to_its_target(
    gateway: Gateway, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    fake, base = fake_openai
    with_openai_key(gateway, base)
    gateway.control(lambda c: c.set_alias("default", "cheap", "openai/gpt-4o-mini"))
    reply = client(gateway).chat.completions.create(
        model="cheap", messages=[{"role": "user", "content": "x"}]
    )
    assert reply.model == "openai/gpt-4o-mini"
    assert fake.requests[-1].body["model"] == "gpt-4o-mini"


def test_embeddings(gateway: Gateway, fake_openai: tuple[FakeOpenAI, str]) -> None:
    fake, base = fake_openai
    with_openai_key(gateway, base)
    result = client(gateway).embeddings.create(
        model="openai/text-embedding-3-small", input=["a", "b"]
    )
    assert [d.index for d in result.data] == [0, 1]
    assert result.data[1].embedding[0] == pytest.approx(0.2)
    assert result.usage.prompt_tokens == 6
    assert fake.requests[-1].body["model"] == "text-embedding-3-small"


def test_completion_helper_matches_fake(fake_openai: tuple[FakeOpenAI, str]) -> None:
    ChatCompletion.model_validate(completion())


def test_models_of_an_openai_compatible_host_are_asked_of_the_host(
    gateway: Gateway, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    fake, base = fake_openai
    gateway.control(
        lambda c: c.add_provider_key("default", "vllm", UPSTREAM_KEY, name="gpu", base_url=base)
    )
    gateway.control(
        lambda c: c.add_provider_key(
            "default", "openai-compatible", "wrong-key", name="broken", base_url=base
        )
    )
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=gateway.api_key) as api:
        ids = {m.id for m in api.models.list()}
        assert {"vllm/llama-3.3-70b", "vllm/qwen-3-32b", "demo/fast"} <= ids
        assert not any(i.startswith("openai-compatible/") for i in ids)  # its host said 401
        api.models.list()
    assert fake.model_listings == 1  # kept for a few minutes
