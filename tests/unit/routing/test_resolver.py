"""``keyroute.routing.resolver.ModelResolver``: model ids -> routes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from keyroute.core.errors import InvalidRequest, ModelNotFound
from keyroute.core.timeouts import Timeouts
from keyroute.providers import registry
from keyroute.routing.resolver import ModelResolver, Route
from keyroute.storage.base import ProviderKeyRecord, WorkspaceRecord
from keyroute.workspace_state import WorkspaceState

T0 = datetime(2025, 1, 1, tzinfo=UTC)
WORKSPACE = WorkspaceRecord(
    id="ws_1", name="team-a", plan="free", created_at=T0, wrapped_data_key=b"w", master_key_id="m"
)


def key(provider: str, name: str | None = None, base_url: str | None = None) -> ProviderKeyRecord:
    return ProviderKeyRecord(
        id=f"pk_{name or provider}",
        workspace_id="ws_1",
        provider=provider,
        name=name or provider,
        base_url=base_url,
        ciphertext=b"",
        nonce=b"",
        fingerprint="",
        last4="",
        created_at=T0,
    )


OPENAI = key("openai")
DEMO = key("demo")
GROQ = key("groq", "groq-main")
LOCAL = key("vllm", "groq", base_url="http://10.0.0.5:8000/v1")  # a key *named* like a provider
ROUTER = key("openai-compatible", "openrouter", base_url="https://openrouter.ai/api/v1")


def state(*keys: ProviderKeyRecord, **aliases: str) -> WorkspaceState:
    return WorkspaceState(workspace=WORKSPACE, provider_keys=list(keys), aliases=aliases)


TIMEOUTS = Timeouts(connect=1.0, first_byte=2.0, idle=3.0, total=42.0)


def resolve(st: WorkspaceState, model: str) -> Route:
    return ModelResolver(timeouts=TIMEOUTS).resolve(st, model)


def check(st: WorkspaceState, model: str, expected: tuple[str, str, str, str, str]) -> None:
    """``(key id, provider, upstream model, base URL, model id shown)``."""
    route = resolve(st, model)
    assert route.target.timeouts == TIMEOUTS
    assert route.provider.name == route.target.provider
    assert (
        route.key.id,
        route.target.provider,
        route.target.model,
        route.target.base_url,
        route.model_id,
    ) == expected


ALL = state(
    OPENAI,
    DEMO,
    GROQ,
    LOCAL,
    ROUTER,
    fast="demo/fast",
    best="openai/gpt-4o",
    smart="best",
    cheap="groq-main/llama-3.1-8b-instant",
)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            "openai/gpt-4o",
            ("pk_openai", "openai", "gpt-4o", "https://api.openai.com/v1", "openai/gpt-4o"),
        ),
        ("demo/fast", ("pk_demo", "demo", "fast", "demo://simulated/v1", "demo/fast")),
        # the key name "groq" beats the provider id "groq"
        ("groq/llama", ("pk_groq", "vllm", "llama", "http://10.0.0.5:8000/v1", "groq/llama")),
        (
            "groq-main/llama",
            ("pk_groq-main", "groq", "llama", "https://api.groq.com/openai/v1", "groq-main/llama"),
        ),
        ("vllm/llama", ("pk_groq", "vllm", "llama", "http://10.0.0.5:8000/v1", "vllm/llama")),
        # everything after the first slash is the upstream model
        (
            "openrouter/meta-llama/llama-3-70b",
            (
                "pk_openrouter",
                "openai-compatible",
                "meta-llama/llama-3-70b",
                "https://openrouter.ai/api/v1",
                "openrouter/meta-llama/llama-3-70b",
            ),
        ),
        ("fast", ("pk_demo", "demo", "fast", "demo://simulated/v1", "demo/fast")),
        ("smart", ("pk_openai", "openai", "gpt-4o", "https://api.openai.com/v1", "openai/gpt-4o")),
        (
            "cheap",
            (
                "pk_groq-main",
                "groq",
                "llama-3.1-8b-instant",
                "https://api.groq.com/openai/v1",
                "groq-main/llama-3.1-8b-instant",
            ),
        ),
    ],
)
def test_resolve(model: str, expected: tuple[str, str, str, str, str]) -> None:
    check(ALL, model, expected)


def test_the_first_matching_key_wins() -> None:
    second = ProviderKeyRecord(
        **{
            **{f: getattr(OPENAI, f) for f in OPENAI.__dataclass_fields__},
            "id": "pk_second",
            "name": "openai-2",
        }
    )
    assert resolve(state(OPENAI, second), "openai/x").key.id == "pk_openai"
    assert resolve(state(second, OPENAI), "openai/x").key.id == "pk_openai"  # name beats provider


def check_error(st: WorkspaceState, model: str, cls: type[InvalidRequest], *fragments: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        resolve(st, model)
    assert type(info.value) is cls
    assert info.value.param == "model"
    for fragment in fragments:
        assert fragment in info.value.message


@pytest.mark.parametrize(
    ("model", "cls", "fragments"),
    [
        ("llama-3", ModelNotFound, ("'llama-3' does not exist", "provider/model")),
        ("", InvalidRequest, ("Invalid model id: it is empty",)),
        ("openai/gpt-4о", InvalidRequest, ("U+043E",)),
        ("openai/gpt\r\nx: y", InvalidRequest, ("U+000D",)),
        ("x" * 100_000, InvalidRequest, ("100000 characters is too long",)),
        ("/gpt-4o", ModelNotFound, ()),
        ("openai/", ModelNotFound, ()),
        ("azure/gpt-4o", ModelNotFound, ("'azure' is neither a provider nor a provider key",)),
        (
            "anthropic/claude-haiku-4-5",
            InvalidRequest,
            (
                "no provider key for 'anthropic'",
                "keyroute provider-key add --workspace team-a --provider anthropic --key-stdin",
            ),
        ),
        (
            "mistral/mistral-small-latest",
            InvalidRequest,
            ("keyroute provider-key add --workspace team-a --provider mistral --key-stdin",),
        ),
        (
            "openai-compatible/x",
            InvalidRequest,
            (
                "keyroute provider-key add --workspace team-a --provider openai-compatible "
                "--base-url URL",
            ),
        ),
    ],
)
def test_errors(model: str, cls: type[InvalidRequest], fragments: tuple[str, ...]) -> None:
    check_error(state(OPENAI), model, cls, *fragments)


def test_unknown_model_is_404() -> None:
    with pytest.raises(ModelNotFound) as info:
        resolve(state(), "nope/x")
    assert info.value.status_code() == 404


def test_missing_demo_key_hint_is_a_command_that_works() -> None:
    with pytest.raises(InvalidRequest) as info:
        resolve(state(), "demo/fast")
    assert "keyroute provider-key add --workspace team-a --provider demo" in info.value.message
    assert "--base-url" not in info.value.message


def test_key_without_any_base_url() -> None:
    check_error(
        state(key("openai-compatible", "local")),
        "local/x",
        InvalidRequest,
        "'local' has no base URL",
    )


@pytest.mark.parametrize(
    ("aliases", "model"),
    [
        ({"a": "a"}, "a"),
        ({"a": "b", "b": "a"}, "a"),
        ({"a1": "a2", "a2": "a3", "a3": "a4", "a4": "a5", "a5": "a6", "a6": "openai/x"}, "a1"),
    ],
)
def test_alias_loops_and_deep_nesting_are_refused(aliases: dict[str, str], model: str) -> None:
    check_error(state(OPENAI, **aliases), model, InvalidRequest, f"'{model}' nests too deeply")


def test_alias_nesting_four_deep_resolves() -> None:
    st = state(OPENAI, a1="a2", a2="a3", a3="a4", a4="openai/x")
    assert resolve(st, "a1").model_id == "openai/x"


def test_alias_nesting_five_deep_resolves() -> None:
    st = state(OPENAI, a1="a2", a2="a3", a3="a4", a4="a5", a5="openai/x")
    assert resolve(st, "a1").model_id == "openai/x"


def test_alias_to_unknown_model_names_the_alias() -> None:
    check_error(state(OPENAI, mine="azure/gpt"), "mine", ModelNotFound, "'mine'")


def test_provider_adapters_are_created_once() -> None:
    resolver = ModelResolver()
    first = resolver.resolve(ALL, "openai/a").provider
    assert resolver.resolve(ALL, "openai/b").provider is first
    assert resolver.provider("openai") is first
    assert resolver.provider("groq") is not first
    assert resolver.provider("groq").name == "groq"


@pytest.mark.parametrize("name", registry.provider_names())
def test_every_provider_id_is_a_prefix(name: str) -> None:
    base = None if registry.spec(name).base_url else "https://host.test/v1"
    route = resolve(state(key(name, base_url=base)), f"{name}/m")
    assert (route.target.provider, route.target.model) == (name, "m")


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("claude-sonnet-4-5-20250929", "anthropic"),
        ("gpt-4o-mini", "openai"),
        ("gemini-3.5-flash", "gemini"),
        ("o3-mini", "openai"),
        ("llama-3", None),
    ],
)
def test_bare_model_family_names_pick_their_provider(model: str, provider: str | None) -> None:
    from keyroute.providers.registry import provider_for_bare_model

    assert provider_for_bare_model(model) == provider


def test_listing_prefixes_name_further_keys_by_their_own_name() -> None:
    from keyroute.routing.resolver import model_prefixes

    keys = [OPENAI, dataclasses.replace(OPENAI, id="pk_2", name="prod")]
    assert [prefix for prefix, _ in model_prefixes(keys)] == ["openai", "prod"]


def test_an_alias_that_expands_to_a_malformed_id_is_refused() -> None:
    check_error(state(OPENAI, bad="openai/gpt 4o"), "bad", InvalidRequest, "U+0020")
