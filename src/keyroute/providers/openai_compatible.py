"""Provider ``openai-compatible`` and its presets: any host that speaks OpenAI's format.

A preset is configuration, not code: a name, a default base URL, whether a key is needed, and
which field carries the output token limit. Adding a host is one line in ``PRESETS``.
"""

from __future__ import annotations

from dataclasses import dataclass

from keyroute.providers.base import Capabilities
from keyroute.providers.openai import OpenAIProvider


@dataclass(frozen=True, slots=True, kw_only=True)
class Preset:
    name: str
    base_url: str | None
    requires_key: bool = True
    embeddings: bool = False
    label: str = ""


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="openai-compatible",
            base_url=None,
            requires_key=False,
            embeddings=True,
            label="any OpenAI-format host (give --base-url)",
        ),
        Preset(
            name="mistral",
            base_url="https://api.mistral.ai/v1",
            embeddings=True,
            label="Mistral AI",
        ),
        Preset(name="groq", base_url="https://api.groq.com/openai/v1", label="Groq"),
        Preset(name="deepseek", base_url="https://api.deepseek.com/v1", label="DeepSeek"),
        Preset(
            name="together",
            base_url="https://api.together.xyz/v1",
            embeddings=True,
            label="Together AI",
        ),
        Preset(
            name="fireworks",
            base_url="https://api.fireworks.ai/inference/v1",
            embeddings=True,
            label="Fireworks AI",
        ),
        Preset(
            name="ollama",
            base_url="http://127.0.0.1:11434/v1",
            requires_key=False,
            embeddings=True,
            label="Ollama (local)",
        ),
        Preset(
            name="vllm",
            base_url="http://127.0.0.1:8000/v1",
            requires_key=False,
            embeddings=True,
            label="vLLM (self-hosted)",
        ),
    )
}


class OpenAICompatibleProvider(OpenAIProvider):
    """The OpenAI adapter under another provider id; sends ``max_tokens`` (widely accepted)."""

    def __init__(self, preset: Preset) -> None:
        super().__init__(
            name=preset.name,
            capabilities=Capabilities(
                embeddings=preset.embeddings, requires_key=preset.requires_key
            ),
            max_tokens_field="max_tokens",
            # Some hosts end a stream after the finish chunk without ``data: [DONE]``.
            require_done=False,
        )
        self.preset = preset
