"""``keyroute.control.base_url.BaseUrlPolicy``: which base URLs a provider key may name."""

from __future__ import annotations

import pytest

from keyroute.config.schema import BaseUrlConfig
from keyroute.control.base_url import BaseUrlPolicy
from keyroute.core.errors import InvalidRequest

DEFAULT = BaseUrlPolicy()
OPEN = BaseUrlPolicy(
    allow_link_local=True, allow_metadata=True, allow_unspecified=True, allow_encoded_ip=True
)
CLOSED = BaseUrlPolicy(allow_loopback=False, allow_private=False)


def check(policy: BaseUrlPolicy, url: str, fragment: str | None) -> None:
    """``fragment``: ``None`` when ``url`` is accepted, else a piece of the error message."""
    if fragment is None:
        assert policy.check(url) == url.strip()
        return
    with pytest.raises(InvalidRequest) as info:
        policy.check(url)
    assert info.value.status == 400
    assert info.value.param == "base_url"
    assert fragment in info.value.message


ACCEPTED_BY_DEFAULT = [
    "https://api.openai.com/v1",
    "https://api.anthropic.com",
    "http://127.0.0.1:11434",
    "http://127.1.2.3:8000/v1",
    "http://localhost:8000",
    "http://vllm.localhost:8000",
    "http://[::1]:8000/v1",
    "http://10.0.0.5:8000/v1",
    "http://172.16.3.4",
    "http://192.168.1.10:11434",
    "http://100.64.0.1",
    "http://[fd12::1]:8000",
    "https://xn--bcher-kva.example/v1",
    "https://my_host.internal.example:443/openai/v1",
    "https://8.8.8.8/v1",
    "http://[2001:db8::1]/v1",
    "  https://api.openai.com/v1  ",
]


@pytest.mark.parametrize("url", ACCEPTED_BY_DEFAULT)
def test_accepted_by_default(url: str) -> None:
    check(DEFAULT, url, None)


REFUSED_BY_DEFAULT = [
    # malformed
    ("http://[::1", "not a valid URL"),
    ("http://[::1]:99999", "not a valid URL"),
    ("http://host:port", "not a valid URL"),
    ("http://[not-ipv6]", "not a valid URL"),
    ("http://[1.2.3.4]", "not a valid URL"),
    ("ftp://x.test", "absolute http:// or https://"),
    ("x.test/v1", "absolute http:// or https://"),
    ("https://", "absolute http:// or https://"),
    ("http://:80", "has no host"),
    ("http://exa mple.com", "U+0020 at position 10"),
    ("http://example.com\r\nx: y", "U+000D"),
    ("http://example.com/\x00", "U+0000"),
    ("http://ex\u0430mple.com", "U+0430"),  # Cyrillic a
    ("http://ｍetadata.google.internal", "U+FF4D"),  # fullwidth m
    ("http://b\u00fccher.example", "U+00FC"),
    ("http://example.com\\@evil.test", "credentials"),
    ("http://example.com\\x", "backslash"),
    ("http://exa%6dple.com", "not a valid host name"),
    ("http://a..b", "not a valid host name"),
    ("http://1.2.3.4.5", "neither a host name nor an IPv4 address"),
    ("http://1.2.3.256", "not a valid IPv4 address"),
    ("http://09.1.1.1", "not a valid IPv4 address"),
    ("http://1.x.2", "neither"),
    # credentials
    ("http://user:pass@api.example.com", "credentials"),
    ("http://user@api.example.com", "credentials"),
    ("https://:secret@api.example.com/v1", "credentials"),
    # metadata services
    ("http://169.254.169.254/latest/meta-data", "cloud metadata"),
    ("http://169.254.170.2/v2", "cloud metadata"),
    ("http://[fd00:ec2::254]/latest", "cloud metadata"),
    ("http://100.100.100.200/latest", "cloud metadata"),
    ("http://metadata.google.internal/computeMetadata/v1", "cloud metadata"),
    ("http://METADATA.google.internal./x", "cloud metadata"),
    ("http://metadata/x", "cloud metadata"),
    ("http://metadata.goog", "cloud metadata"),
    ("http://[::ffff:169.254.169.254]", "cloud metadata"),
    ("http://[64:ff9b::a9fe:a9fe]", "cloud metadata"),
    ("http://[2002:a9fe:a9fe::1]", "cloud metadata"),
    # link-local
    ("http://169.254.1.1", "link-local"),
    ("http://[fe80::1]", "link-local"),
    ("http://[fe80::1%25eth0]:80", "link-local"),
    # unspecified
    ("http://0.0.0.0:8000", "unspecified"),
    ("http://0.1.2.3", "unspecified"),
    ("http://[::]:8000", "unspecified"),
    # encoded IPv4
    ("http://2852039166", "non-canonical"),
    ("http://0xa9fea9fe", "non-canonical"),
    ("http://0251.0376.0251.0376", "non-canonical"),
    ("http://0xa9.0xfe.0xa9.0xfe", "non-canonical"),
    ("http://169.254.43518", "non-canonical"),
    ("http://2130706433", "non-canonical"),  # 127.0.0.1
    ("http://127.1", "non-canonical"),
    ("http://0", "non-canonical"),
    ("http://10.0.0.1.", "non-canonical"),
    # never unicast
    ("http://224.0.0.1", "not a unicast"),
    ("http://255.255.255.255", "not a unicast"),
    ("http://240.0.0.1", "not a unicast"),
    ("http://[ff02::1]", "not a unicast"),
]


@pytest.mark.parametrize(("url", "fragment"), REFUSED_BY_DEFAULT)
def test_refused_by_default(url: str, fragment: str) -> None:
    check(DEFAULT, url, fragment)


def test_errors_never_echo_a_password() -> None:
    with pytest.raises(InvalidRequest) as info:
        DEFAULT.check("https://admin:hunter2-secret@api.example.com/v1")
    assert "hunter2" not in info.value.message


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254",
        "http://metadata.google.internal",
        "http://[fe80::1]",
        "http://169.254.1.1",
        "http://0.0.0.0:8000",
        "http://2852039166",
        "http://0251.0376.0251.0376",
    ],
)
def test_the_operator_can_allow_what_is_refused_by_default(url: str) -> None:
    check(OPEN, url, None)


def test_link_local_allowed_still_refuses_metadata() -> None:
    policy = BaseUrlPolicy(allow_link_local=True)
    check(policy, "http://169.254.1.1", None)
    check(policy, "http://169.254.169.254", "cloud metadata")


def test_an_encoded_ip_allowed_is_still_judged_by_its_address() -> None:
    policy = BaseUrlPolicy(allow_encoded_ip=True)
    check(policy, "http://2852039166", "cloud metadata")
    check(policy, "http://167772161", None)  # 10.0.0.1


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://127.0.0.1:11434", "loopback"),
        ("http://localhost:8000", "loopback"),
        ("http://api.localhost", "loopback"),
        ("http://[::1]", "loopback"),
        ("http://[::ffff:127.0.0.1]", "loopback"),
        ("http://10.0.0.5", "private"),
        ("http://192.168.0.2", "private"),
        ("http://172.31.255.255", "private"),
        ("http://100.64.1.1", "private"),
        ("http://[fd12::1]", "private"),
    ],
)
def test_loopback_and_private_ranges_can_be_refused(url: str, fragment: str) -> None:
    check(CLOSED, url, fragment)
    check(DEFAULT, url, None)


def test_public_hosts_pass_the_strictest_policy() -> None:
    check(CLOSED, "https://api.openai.com/v1", None)
    check(CLOSED, "http://172.32.0.1", None)


def test_from_config_takes_every_setting() -> None:
    config = BaseUrlConfig(allow_loopback=False, allow_metadata=True)
    assert BaseUrlPolicy.from_config(config) == BaseUrlPolicy(
        allow_loopback=False, allow_metadata=True
    )
    assert BaseUrlPolicy.from_config(BaseUrlConfig()) == DEFAULT
