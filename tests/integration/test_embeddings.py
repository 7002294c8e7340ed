"""``POST /v1/embeddings`` through the official ``openai`` SDK, to each provider that embeds."""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import openai
import pytest

from tests.fakes.fake_gemini import DEFAULT_API_KEY, Reply, create_fake_gemini
from tests.fakes.server import serve
from tests.integration.conftest import Gateway

pytestmark = pytest.mark.integration
TRANSCRIPTS = Path(__file__).resolve().parents[1] / "transcripts" / "gemini"


def test_gemini_embeddings(gateway: Gateway) -> None:
    fake = create_fake_gemini()
    with serve(fake) as url:
        gateway.control(
            lambda c: c.add_provider_key("default", "gemini", DEFAULT_API_KEY, base_url=url)
        )
        fake.push(Reply.transcript(TRANSCRIPTS / "embeddings.response.json"))
        with openai.OpenAI(
            base_url=gateway.url + "/v1", api_key=gateway.api_key, max_retries=0
        ) as client:
            result = client.embeddings.create(
                model="gemini/gemini-embedding-001", input=["first", "second"], dimensions=4
            )
    assert [d.index for d in result.data] == [0, 1]
    assert result.data[0].embedding == pytest.approx([0.0123, -0.0456, 0.0789, -0.1011])
    sent = fake.received[-1]
    assert sent.path.endswith("gemini-embedding-001:batchEmbedContents")
    assert [r["content"]["parts"][0]["text"] for r in sent.json["requests"]] == ["first", "second"]
    assert sent.json["requests"][0]["outputDimensionality"] == 4


def test_base64_encoding_and_unsupported_providers(
    gateway: Gateway, fake_openai: tuple[object, str]
) -> None:
    gateway.control(
        lambda c: c.add_provider_key(
            "default", "openai", "sk-fake-upstream-key-0123456789abcdef", base_url=fake_openai[1]
        )
    )
    with openai.OpenAI(
        base_url=gateway.url + "/v1", api_key=gateway.api_key, max_retries=0
    ) as client:
        raw = client.embeddings.with_raw_response.create(
            model="openai/text-embedding-3-small", input="a", encoding_format="base64"
        )
        packed = raw.http_response.json()["data"][0]["embedding"]
        assert struct.unpack("<3f", base64.b64decode(packed))[0] == pytest.approx(0.1)
        with pytest.raises(openai.BadRequestError) as info:
            client.embeddings.create(model="demo/fast", input="a")
        assert "embeddings" in info.value.message
        with pytest.raises(openai.BadRequestError) as info:
            client.embeddings.create(model="openai/text-embedding-3-small", input=[])
        assert info.value.body["param"] == "input"  # type: ignore[index]
