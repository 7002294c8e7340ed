"""``keyroute.config.load``: defaults -> TOML -> ``KEYROUTE__SECTION__KEY`` -> contract vars."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from keyroute.config.load import export_for_workers, load
from keyroute.config.schema import Config
from keyroute.core.errors import ConfigError

SECRET = "c2VjcmV0LW1hc3Rlci1rZXktMzItYnl0ZXMtbG9uZyE="


@pytest.fixture(autouse=True)
def isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``load`` looks for ``.keyroute/keyroute.toml`` relative to the working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def value(config: Config, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def check(
    env: dict[str, str], expected: dict[str, Any], toml: str | None = None, tmp: Path | None = None
) -> None:
    path = write(tmp / "c.toml", toml) if toml is not None and tmp is not None else None
    config = load(path, env=env)
    assert {k: value(config, k) for k in expected} == expected


def test_defaults() -> None:
    config = load(env={})
    assert config == Config()
    assert (config.server.host, config.server.port, config.server.workers) == ("127.0.0.1", 8080, 1)
    assert config.server.max_body_bytes == 10 * 1024 * 1024
    assert (config.upstream.timeout_seconds, config.upstream.max_connections) == (600.0, 1000)
    assert config.providers.anthropic.default_max_tokens == 4096
    assert (config.logging.level, config.master_key, config.database_url) == ("INFO", None, "")
    assert config.data_dir == Path(".keyroute")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"KEYROUTE__SERVER__PORT": "9000"}, {"server.port": 9000}),
        ({"KEYROUTE__SERVER__HOST": "0.0.0.0"}, {"server.host": "0.0.0.0"}),
        ({"KEYROUTE__SERVER__MAX_BODY_BYTES": "2048"}, {"server.max_body_bytes": 2048}),
        ({"KEYROUTE__SERVER__ACCESS_LOG": "true"}, {"server.access_log": True}),
        ({"KEYROUTE__UPSTREAM__TIMEOUT_SECONDS": "2.5"}, {"upstream.timeout_seconds": 2.5}),
        (
            {"KEYROUTE__PROVIDERS__ANTHROPIC__DEFAULT_MAX_TOKENS": "100"},
            {"providers.anthropic.default_max_tokens": 100},
        ),
        ({"KEYROUTE__LOGGING__LEVEL": "DEBUG"}, {"logging.level": "DEBUG"}),
        ({"KEYROUTE__DATABASE_URL": "sqlite:///x.db"}, {"database_url": "sqlite:///x.db"}),
        ({"KEYROUTE_DATA_DIR": "/srv/kr"}, {"data_dir": Path("/srv/kr")}),
        ({"KEYROUTE_DATABASE_URL": "sqlite:///y.db"}, {"database_url": "sqlite:///y.db"}),
        ({"KEYROUTE_DATABASE_URL": ""}, {"database_url": ""}),
        # the contract variables win over KEYROUTE__ ones
        (
            {"KEYROUTE__DATABASE_URL": "a://", "KEYROUTE_DATABASE_URL": "b://"},
            {"database_url": "b://"},
        ),
        ({"KEYROUTE__DATA_DIR": "/a", "KEYROUTE_DATA_DIR": "/b"}, {"data_dir": Path("/b")}),
        ({"OTHER": "1", "KEYROUTE_SOMETHING": "ignored"}, {"server.port": 8080}),
    ],
)
def test_environment(env: dict[str, str], expected: dict[str, Any]) -> None:
    check(env, expected)


def test_master_key_from_the_environment() -> None:
    config = load(env={"KEYROUTE_MASTER_KEY": SECRET})
    assert config.master_key is not None
    assert config.master_key.get_secret_value() == SECRET
    assert SECRET not in repr(config) and SECRET not in str(config)


def test_toml_file(tmp_path: Path) -> None:
    toml = '[server]\nport = 7000\nhost = "::"\n[logging]\nlevel = "WARNING"\n'
    check(
        {},
        {"server.port": 7000, "server.host": "::", "logging.level": "WARNING", "server.workers": 1},
        toml,
        tmp_path,
    )


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    toml = "[server]\nport = 7000\nworkers = 2\n"
    check(
        {"KEYROUTE__SERVER__PORT": "7100"},
        {"server.port": 7100, "server.workers": 2},
        toml,
        tmp_path,
    )


def test_file_from_keyroute_config(tmp_path: Path) -> None:
    path = write(tmp_path / "elsewhere.toml", "[server]\nport = 7001\n")
    assert load(env={"KEYROUTE_CONFIG": str(path)}).server.port == 7001


def test_file_in_the_data_dir(tmp_path: Path) -> None:
    write(tmp_path / "data" / "keyroute.toml", "[server]\nport = 7002\n")
    config = load(env={"KEYROUTE_DATA_DIR": str(tmp_path / "data")})
    assert (config.server.port, config.data_dir) == (7002, tmp_path / "data")


def test_file_in_the_default_data_dir(isolated_cwd: Path) -> None:
    write(isolated_cwd / ".keyroute" / "keyroute.toml", "[server]\nport = 7003\n")
    assert load(env={}).server.port == 7003


def test_explicit_path_beats_keyroute_config(tmp_path: Path) -> None:
    a = write(tmp_path / "a.toml", "[server]\nport = 1001\n")
    b = write(tmp_path / "b.toml", "[server]\nport = 1002\n")
    assert load(a, env={"KEYROUTE_CONFIG": str(b)}).server.port == 1001


def check_error(
    *fragments: str,
    toml: str | None = None,
    env: dict[str, str] | None = None,
    path: Path | None = None,
    tmp: Path | None = None,
) -> str:
    if toml is not None:
        assert tmp is not None
        path = write(tmp / "c.toml", toml)
    with pytest.raises(ConfigError) as info:
        load(path, env=env or {})
    for fragment in fragments:
        assert fragment in info.value.message, info.value.message
    assert info.value.status_code() == 500
    return info.value.message


@pytest.mark.parametrize(
    ("env", "fragments"),
    [
        ({"KEYROUTE__SERVER__NOPE": "1"}, ("server.nope", "(hidden)")),
        ({"KEYROUTE__NOPE": "1"}, ("nope:",)),
        ({"KEYROUTE__PROVIDERS__ANTHROPIC__NOPE": "x"}, ("providers.anthropic.nope",)),
        ({"KEYROUTE__PROVIDERS__OPENAI__KEY": "x"}, ("providers.openai",)),
        ({"KEYROUTE__SERVER__PORT": "eighty"}, ("server.port", "'eighty'")),
        ({"KEYROUTE__SERVER__PORT": "70000"}, ("server.port", "'70000'")),
        ({"KEYROUTE__SERVER__WORKERS": "0"}, ("server.workers",)),
        ({"KEYROUTE__SERVER__MAX_BODY_BYTES": "10"}, ("server.max_body_bytes",)),
        ({"KEYROUTE__UPSTREAM__TIMEOUT_SECONDS": "0"}, ("upstream.timeout_seconds",)),
        ({"KEYROUTE__LOGGING__LEVEL": "TRACE"}, ("logging.level", "'TRACE'")),
        ({"KEYROUTE__SERVER": "flat"}, ("server",)),
    ],
)
def test_environment_errors(env: dict[str, str], fragments: tuple[str, ...]) -> None:
    check_error("Invalid configuration", *fragments, env=env)


def test_several_errors_are_all_named() -> None:
    check_error(
        "server.port",
        "logging.level",
        env={"KEYROUTE__SERVER__PORT": "x", "KEYROUTE__LOGGING__LEVEL": "x"},
    )


@pytest.mark.parametrize(
    ("toml", "fragments"),
    [
        ("bogus = 1\n", ("bogus:", "(got (hidden))")),
        ("[server]\nbogus = true\n", ("server.bogus",)),
        ("[server]\nport = -1\n", ("server.port", "(got -1)")),
        (
            "[providers.anthropic]\ndefault_max_tokens = 0\n",
            ("providers.anthropic.default_max_tokens",),
        ),
        ('[upstream]\nmax_connections = "many"\n', ("upstream.max_connections", "'many'")),
        ("server = 5\n", ("server",)),
    ],
)
def test_file_errors(tmp_path: Path, toml: str, fragments: tuple[str, ...]) -> None:
    check_error(*fragments, toml=toml, tmp=tmp_path)


def test_missing_file(tmp_path: Path) -> None:
    check_error("Config file not found", str(tmp_path / "none.toml"), path=tmp_path / "none.toml")


def test_missing_file_from_keyroute_config(tmp_path: Path) -> None:
    check_error("Config file not found", env={"KEYROUTE_CONFIG": str(tmp_path / "none.toml")})


def test_invalid_toml(tmp_path: Path) -> None:
    check_error("is not valid TOML", toml="[server\nport = 1\n", tmp=tmp_path)


def test_env_path_that_conflicts_with_a_file_value(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", '[logging]\nlevel = "INFO"\n')
    with pytest.raises(ConfigError, match="logging.level.x conflicts"):
        load(path, env={"KEYROUTE__LOGGING__LEVEL__X": "1"})


@pytest.mark.parametrize(
    ("toml", "env"),
    [
        ("master_key = 12345\n", {}),
        (f'master_key = ["{SECRET}"]\n', {}),
        (f'[master_key]\nvalue = "{SECRET}"\n', {}),
        ("", {"KEYROUTE__MASTER_KEY__VALUE": SECRET}),
    ],
    ids=["int", "list", "table", "env-table"],
)
def test_master_key_value_is_never_shown(tmp_path: Path, toml: str, env: dict[str, str]) -> None:
    message = check_error("master_key", "(hidden)", toml=toml, env=env, tmp=tmp_path)
    assert SECRET not in message and "12345" not in message


@pytest.mark.parametrize(
    ("toml", "env"),
    [
        (f'[vault]\nmaster_key = "{SECRET}"\n', {}),
        ("", {"KEYROUTE__SERVER__MASTER_KEY": SECRET}),
    ],
    ids=["toml-vault-section", "env-server-section"],
)
def test_misplaced_master_key_is_not_shown(tmp_path: Path, toml: str, env: dict[str, str]) -> None:
    message = check_error("Invalid configuration", toml=toml, env=env, tmp=tmp_path)
    assert SECRET not in message


@pytest.mark.parametrize(
    ("env", "fragments"),
    [
        ({"KEYROUTE__ALERTS__SMTP__PORT": "abc"}, ("alerts.smtp.port", "'abc'")),
        ({"KEYROUTE__ALERTS__SMTP__STARTTLS": "maybe"}, ("alerts.smtp.starttls",)),
        ({"KEYROUTE__ALERTS__SMTP__FROM": ""}, ("alerts.smtp.from", "one email address")),
        (
            {"KEYROUTE__ALERTS__SMTP__FROM": "a@example.com\r\nBcc: b@example.com"},
            ("alerts.smtp.from", "one email address"),
        ),
        ({"KEYROUTE__ALERTS__SMTP__HOST": "smtp example"}, ("alerts.smtp.host", "host name")),
        (
            {
                "KEYROUTE__ALERTS__SMTP__HOST": "smtp.example.com",
                "KEYROUTE__ALERTS__SMTP__USERNAME": "alerts",
                "KEYROUTE__ALERTS__SMTP__PASSWORD": SECRET,
                "KEYROUTE__ALERTS__SMTP__STARTTLS": "false",
            },
            ("alerts.smtp:", "clear text", "(hidden)"),
        ),
    ],
)
def test_smtp_settings_are_checked_and_the_password_never_shown(
    env: dict[str, str], fragments: tuple[str, ...]
) -> None:
    assert SECRET not in check_error("Invalid configuration", *fragments, env=env)


def test_smtp_settings_from_the_environment() -> None:
    smtp = load(
        env={
            "KEYROUTE__ALERTS__SMTP__HOST": "smtp.example.com",
            "KEYROUTE__ALERTS__SMTP__PORT": "2525",
            "KEYROUTE__ALERTS__SMTP__USERNAME": "alerts",
            "KEYROUTE__ALERTS__SMTP__PASSWORD": SECRET,
            "KEYROUTE__ALERTS__SMTP__STARTTLS": "true",
            "KEYROUTE__ALERTS__SMTP__FROM": "keyroute@example.com",
        }
    ).alerts.smtp
    assert (smtp.host, smtp.port, smtp.username, smtp.starttls, smtp.from_) == (
        "smtp.example.com",
        2525,
        "alerts",
        True,
        "keyroute@example.com",
    )
    assert smtp.password is not None and smtp.password.get_secret_value() == SECRET
    relay = {"KEYROUTE__ALERTS__SMTP__HOST": "localhost", "KEYROUTE__ALERTS__SMTP__STARTTLS": "0"}
    assert load(env={**relay, "KEYROUTE__ALERTS__SMTP__USERNAME": "u"}).alerts.smtp.username == "u"


def test_export_for_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYROUTE_CONFIG", "before")  # restored after the test
    export_for_workers(None)
    assert os.getenv("KEYROUTE_CONFIG") == "before"
    export_for_workers("relative.toml")
    assert os.getenv("KEYROUTE_CONFIG") == str(tmp_path / "relative.toml")
