"""How keyroute treats upstream connections: pooling, timeouts, unreachable hosts."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.fakes.fake_openai import UPSTREAM_KEY, FakeOpenAI, Reply, completion
from tests.integration.conftest import Gateway, running_gateway

pytestmark = pytest.mark.integration


def ask(gw: Gateway, model: str = "openai/gpt-4o-mini") -> str | None:
    with openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.api_key, max_retries=0) as client:
        reply = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "x"}]
        )
        return reply.choices[0].message.content


def test_upstream_connections_are_pooled_and_reused(
    gateway: Gateway, fake_openai: tuple[FakeOpenAI, str]
) -> None:
    fake, base = fake_openai
    gateway.control(lambda c: c.add_provider_key("default", "openai", UPSTREAM_KEY, base_url=base))
    for _ in range(3):
        ask(gateway)
    ports = {r.client_port for r in fake.requests}
    assert len(fake.requests) == 3 and len(ports) == 1


def test_upstream_timeout_is_504(tmp_path: Path, fake_openai: tuple[FakeOpenAI, str]) -> None:
    fake, base = fake_openai
    with running_gateway(
        tmp_path, KEYROUTE__UPSTREAM__TIMEOUT_SECONDS="0.5", KEYROUTE__RESILIENCE__MAX_RETRIES="0"
    ) as gw:
        gw.control(lambda c: c.add_provider_key("default", "openai", UPSTREAM_KEY, base_url=base))
        fake.push(Reply(body=completion(), hang=2.0))
        with pytest.raises(openai.APIStatusError) as info:
            ask(gw)
        assert info.value.status_code == 504
        assert "within 0.5 s" in info.value.message


def test_unreachable_provider_is_502(gateway: Gateway) -> None:
    gateway.control(
        lambda c: c.add_provider_key(
            "default", "openai-compatible", "", name="dead", base_url="http://127.0.0.1:9/v1"
        )
    )
    with pytest.raises(openai.APIStatusError) as info:
        ask(gateway, "dead/some-model")
    assert info.value.status_code == 502
    assert "could not be reached" in info.value.message
