"""``keyroute models`` and ``keyroute prices`` (the CLI), and the same through the admin API,
against a running gateway sharing the data directory."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import Gateway, running_gateway

pytestmark = pytest.mark.integration


def admin(gateway: Gateway) -> httpx.Client:
    return httpx.Client(
        base_url=gateway.url + "/admin/v1",
        timeout=10,
        headers={"authorization": f"Bearer {gateway.admin_token}"},
    )


def test_models_show_json_contract(gateway: Gateway) -> None:
    shown = gateway.cli_json("models", "show", "anthropic/claude-haiku-5-5")
    assert shown["context_window"] == 1_000_000 and shown["max_output_tokens"] == 128_000
    prices = shown["prices"]
    expected = {"input": 0.10, "cached_input": 0.01, "cache_write_5m": 0.125}
    assert {k: prices[k] for k in expected} == expected
    assert (prices["cache_write_1h"], prices["output"]) == (0.20, 0.50)
    assert prices["source"].startswith("https://") and prices["effective_date"] == "2026-10-07"
    assert prices["tiers"][0]["above_input_tokens"] == 100_000
    assert shown["capabilities"]["prompt_caching"] is True
    bare = gateway.cli_json("models", "show", "gpt-6.2-sol")
    assert bare["id"] == "openai/gpt-6.2-sol" and bare["prices"]["cached_input"] == 0.10
    listed = gateway.cli_json("models", "list", "--provider", "demo")["data"]
    assert [m["id"] for m in listed] == ["demo/echo", "demo/fast", "demo/smart"]
    table = gateway.cli("models", "list").stdout
    assert "openai/gpt-6.2-sol" in table and "1050000" in table
    missing = gateway.cli("models", "show", "nope/nothing", "--json", check=False)
    assert missing.returncode == 1 and '"param": "model"' in missing.stdout


def test_prices_cli(gateway: Gateway, tmp_path: Path) -> None:
    ws = "default"
    set_ = gateway.cli_json(
        "prices", "set", "--workspace", ws, "--provider", "anthropic", "--discount", "15"
    )
    assert (set_["provider"], set_["model"], set_["discount_percent"]) == ("anthropic", None, 15)
    priced = gateway.cli_json(
        "prices", "set", "--workspace", ws, "--model", "openai/gpt-6.2-sol",
        "--input", "1.5", "--output", "8", "--cache-write", "1.875",
    )  # fmt: skip
    assert priced["prices"] == {"input": 1.5, "output": 8, "cache_write": 1.875}
    both = gateway.cli(
        "prices", "set", "--workspace", ws, "--provider", "openai", "--model", "gpt-4o",
        "--discount", "1", "--json", check=False,
    )  # fmt: skip
    assert both.returncode == 1 and "not both" in both.stdout
    bad = gateway.cli(
        "prices", "set", "--workspace", ws, "--model", "gpt-4o", "--discount", "150", check=False
    )
    assert bad.returncode == 1 and "0 to 100" in bad.stderr
    file = tmp_path / "prices.csv"
    file.write_text("provider,model,discount\ngroq,,7\n,deepseek/deepseek-flash,3\n")
    imported = gateway.cli_json("prices", "import", "--workspace", ws, str(file))["data"]
    assert [(r["provider"], r["discount_percent"]) for r in imported] == [
        ("groq", 7),
        ("deepseek", 3),
    ]
    listed = gateway.cli_json("prices", "list", "--workspace", ws)["data"]
    assert [(r["provider"], r["model"]) for r in listed] == [
        ("anthropic", None),
        ("deepseek", "deepseek-flash"),
        ("groq", None),
        ("openai", "gpt-6.2-sol"),
    ]
    cleared = gateway.cli_json("prices", "clear", "--workspace", ws, "--provider", "groq")
    assert cleared == {"provider": "groq", "model": None, "deleted": True}
    assert "deepseek-flash" in gateway.cli("prices", "list", "--workspace", ws).stdout


def test_models_and_prices_admin_api(gateway: Gateway) -> None:
    with admin(gateway) as api:
        models = api.get("/models", params={"provider": "gemini"}).json()["data"]
        assert "gemini/gemini-3.1-pro-preview" in [m["id"] for m in models]
        one = api.get("/models/together/meta-llama/Llama-3.3-70B-Instruct-Turbo").json()
        assert one["provider"] == "together" and one["prices"]["input"] == 0.88
        assert api.get("/models/nope").status_code == 404
        path = "/workspaces/default/prices"
        put = api.put(path, json={"provider": "anthropic", "discount_percent": 15})
        assert put.status_code == 200 and put.json()["discount_percent"] == 15
        put = api.put(path, json={"model": "gpt-4o", "prices": {"input": 2, "output": 9}})
        assert put.json()["prices"] == {"input": 2, "output": 9}
        bad = api.put(path, json={"model": "gpt-4o", "prices": {"input": -1}})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "input"
        bad = api.put(path, json={"provider": "anthropic", "discount": 15})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "discount"
        posted = api.post(
            path, json={"overrides": [{"provider": "mistral", "discount": 4}], "replace": True}
        )
        assert [r["provider"] for r in posted.json()["data"]] == ["mistral"]
        assert [r["provider"] for r in api.get(path).json()["data"]] == ["mistral"]
        assert api.delete(path, params={"provider": "mistral"}).json()["deleted"] is True
        assert api.delete(path, params={"provider": "mistral"}).status_code == 404
        assert api.get(path).json()["data"] == []


def test_a_discount_applies_from_the_next_request_without_a_restart(tmp_path: Path) -> None:
    def chat(gw: Gateway) -> None:
        resp = httpx.post(
            gw.url + "/v1/chat/completions",
            timeout=10,
            headers={"authorization": f"Bearer {gw.api_key}"},
            json={"model": "demo/smart", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert resp.status_code == 200

    with running_gateway(tmp_path) as gw:
        chat(gw)  # at list price
        with admin(gw) as api:  # written through the server's own store: seen at once
            put = api.put(
                "/workspaces/default/prices", json={"provider": "demo", "discount_percent": 50}
            )
            assert put.status_code == 200
        chat(gw)  # the same tokens, half paid
    # The server has shut down, so every usage record is written.
    report = gw.cli_json("usage", "--workspace", "default")
    assert report["requests"] == 2
    listed, paid = Decimal(str(report["list_cost_usd"])), Decimal(str(report["cost_usd"]))
    assert listed > 0 and paid == listed * Decimal("0.75")
