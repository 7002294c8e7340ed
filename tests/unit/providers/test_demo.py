"""The demo provider: simulated, keyless, no embeddings, and labelled as such."""

from __future__ import annotations

from keyroute.providers.demo import DEMO_BASE_URL, demo_models, demo_provider


def test_demo_provider_is_labelled_and_keyless() -> None:
    provider = demo_provider()
    assert provider.name == "demo"
    assert not provider.capabilities.requires_key
    assert not provider.capabilities.embeddings
    assert DEMO_BASE_URL.startswith("demo://")
    assert list(demo_models()) == ["demo/echo", "demo/fast", "demo/smart"]
