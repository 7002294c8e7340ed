"""The Anthropic Messages endpoint through the official ``anthropic`` SDK, over real sockets."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import pytest

from tests.fakes.fake_anthropic import FakeAnthropic, Reply, create_fake_anthropic
from tests.fakes.server import serve
from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration
ANTHROPIC_KEY = "sk-ant-test"


@pytest.fixture
def fake_anthropic(gateway: Gateway) -> Iterator[FakeAnthropic]:
    fake = create_fake_anthropic(api_key=ANTHROPIC_KEY)
    with serve(fake.app) as url:
        gateway.control(
            lambda c: c.add_provider_key("default", "anthropic", ANTHROPIC_KEY, base_url=url)
        )
        yield fake


def sdk(gw: Gateway, key: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=key or gw.api_key, max_retries=0)


def test_anthropic_sdk_against_an_openai_format_model(gateway: Gateway) -> None:
    with sdk(gateway) as client:
        message = client.messages.create(
            model="demo/fast",
            max_tokens=100,
            system="Be brief.",
            messages=[{"role": "user", "content": "Hello there"}],
        )
        assert message.content[0].type == "text"
        assert message.content[0].text.startswith("[demo]")
        assert message.stop_reason == "end_turn"
        assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
        with client.messages.stream(
            model="demo/smart", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text.startswith("[demo]") and final.content[0].text == text
        assert final.usage.output_tokens > 0


def test_anthropic_sdk_against_anthropic(gateway: Gateway, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.push(Reply.transcript("simple"))
    with sdk(gateway) as client:
        message = client.messages.create(
            model="anthropic/claude-sonnet-5-5",
            max_tokens=64,
            messages=[{"role": "user", "content": "Hello"}],
        )
    sent = fake_anthropic.received[-1]
    assert sent.json["model"] == "claude-sonnet-5-5" and sent.json["max_tokens"] == 64
    assert message.model == "anthropic/claude-sonnet-5-5"
    assert message.content


def test_x_api_key_and_bearer_both_authenticate(gateway: Gateway) -> None:
    body = {"model": "demo/fast", "max_tokens": 20, "messages": [{"role": "user", "content": "x"}]}
    for headers in (
        {"x-api-key": gateway.api_key, "anthropic-version": "2023-06-01"},
        {"authorization": f"Bearer {gateway.api_key}"},
    ):
        resp = httpx.post(gateway.url + "/v1/messages", json=body, headers=headers, timeout=10)
        assert resp.status_code == 200, resp.text
        assert resp.json()["type"] == "message"
        assert resp.headers["x-request-id"]


def test_errors_use_anthropic_shape(gateway: Gateway) -> None:
    with sdk(gateway, key="kr-wrong") as client, pytest.raises(anthropic.AuthenticationError):
        client.messages.create(
            model="demo/fast", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    with sdk(gateway) as client, pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(
            model="nope/model", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.body["type"] == "error"  # type: ignore[index]
    resp = httpx.post(
        gateway.url + "/v1/messages",
        content=b"{oops",
        timeout=10,
        headers={"x-api-key": gateway.api_key},
    )
    assert resp.status_code == 400
    payload = resp.json()
    assert payload["type"] == "error" and payload["error"]["type"] == "invalid_request_error"


def test_count_tokens_exact_from_anthropic_and_estimated_elsewhere(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    with sdk(gateway) as client:
        exact = client.messages.count_tokens(
            model="anthropic/claude-sonnet-5-5",
            messages=[{"role": "user", "content": "one two three four"}],
        )
        estimate = client.messages.with_raw_response.count_tokens(
            model="demo/fast", messages=[{"role": "user", "content": "one two three four"}]
        )
    assert exact.input_tokens == 4
    assert fake_anthropic.received[-1].path.endswith("/v1/messages/count_tokens")
    assert estimate.headers["x-keyroute-token-count"] == "estimate"
    assert estimate.parse().input_tokens > 0


def test_anthropic_beta_header_reaches_anthropic(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.push(Reply.transcript("simple"))
    beta = "interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14"
    with sdk(gateway) as client:
        client.messages.create(
            model="anthropic/claude-sonnet-5-5",
            max_tokens=64,
            messages=[{"role": "user", "content": "Hello"}],
            extra_headers={"anthropic-beta": beta},
        )
    sent = fake_anthropic.received[-1]
    assert sent.headers["anthropic-beta"] == beta
    assert sent.headers["x-api-key"] == ANTHROPIC_KEY


def test_bare_claude_model_names_work_like_claude_code(
    gateway: Gateway, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.push(Reply.transcript("simple"))
    with sdk(gateway) as client:
        message = client.messages.create(
            model="claude-sonnet-5-5-20261007",
            max_tokens=64,
            messages=[{"role": "user", "content": "Hello"}],
        )
    assert fake_anthropic.received[-1].json["model"] == "claude-sonnet-5-5-20261007"
    assert message.model == "anthropic/claude-sonnet-5-5-20261007"


def test_anthropic_sdk_lists_models(gateway: Gateway, fake_anthropic: FakeAnthropic) -> None:
    with sdk(gateway) as client:
        ids = [m.id for m in client.models.list()]
        assert "anthropic/claude-sonnet-5-5" in ids and "demo/fast" in ids
        model = client.models.retrieve("demo/fast")
        assert model.id == "demo/fast" and model.type == "model"
        with pytest.raises(anthropic.NotFoundError):
            client.models.retrieve("nope/nothing")
