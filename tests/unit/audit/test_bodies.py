"""``audit.bodies``: opt-in body logging, redacted then sealed with the workspace's data key."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keyroute.audit.bodies import (
    MAX_PATTERNS,
    BodyLogging,
    body_capture,
    checked_patterns,
    open_body,
    sealed_body,
)
from keyroute.audit.writer import _entry
from keyroute.core.errors import InvalidRequest
from keyroute.core.record import BodyCapture
from keyroute.storage.base import WorkspaceRecord
from keyroute.storage.memory import MemoryStore
from keyroute.vault.keystore import KeyVault
from keyroute.vault.masterkey import MasterKeyring
from tests.unit.audit.conftest import record


def workspace(vault: KeyVault, workspace_id: str = "ws_a") -> WorkspaceRecord:
    wrapped, master_id = vault.new_workspace_key(workspace_id)
    return WorkspaceRecord(
        id=workspace_id,
        name=workspace_id,
        plan="free",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        wrapped_data_key=wrapped,
        master_key_id=master_id,
    )


@pytest.fixture
def vault(tmp_path: Path) -> KeyVault:
    return KeyVault(MemoryStore(), MasterKeyring.generate(tmp_path / "master.key"))


def test_the_setting_round_trips_and_defaults_off() -> None:
    assert BodyLogging.parse(None) == BodyLogging() == BodyLogging.parse("")
    on = BodyLogging(enabled=True, patterns=("a+",))
    assert BodyLogging.parse(on.dump()) == on


def test_no_capture_unless_enabled(vault: KeyVault) -> None:
    assert body_capture(vault, workspace(vault), BodyLogging()) is None


def test_bodies_are_redacted_before_they_are_sealed(vault: KeyVault) -> None:
    ws = workspace(vault)
    capture = body_capture(vault, ws, BodyLogging(enabled=True, patterns=(r"order-\d+",)))
    assert capture is not None
    rec = record(
        body_capture=capture,
        request_body=b'{"content": "sk-proj-PLANTEDplanted0123456789 ada@example.org order-42"}',
        response_body=b"fine",
    )
    sealed = sealed_body(rec)
    assert sealed is not None and b"PLANTED" not in sealed and b"order-42" not in sealed
    opened = open_body(vault, ws, rec.request_id, sealed)
    assert opened["response"] == "fine" and opened["truncated"] is False
    request = str(opened["request"])
    for marker in ("[REDACTED:openai-key]", "[REDACTED:email]", "[REDACTED:custom-1]"):
        assert marker in request
    entry = _entry(rec, "row1")  # the audit writer seals on its background task
    assert entry.body is not None
    assert open_body(vault, ws, rec.request_id, entry.body) == opened
    other = workspace(vault, "ws_b")
    assert "error" in open_body(vault, other, rec.request_id, sealed)


def test_long_bodies_are_cut_and_said_so() -> None:
    seen: list[str] = []

    def seal(request_id: str, text: str) -> bytes:
        seen.append(text)
        return b"sealed"

    rec = record(body_capture=BodyCapture(seal=seal, max_bytes=4), request_body=b"abcdefgh")
    assert sealed_body(rec) == b"sealed"
    assert json.loads(seen[0]) == {"request": "abcd", "response": None, "truncated": True}
    assert sealed_body(record(body_capture=BodyCapture(seal=seal))) is None  # nothing read
    assert sealed_body(record()) is None
    assert _entry(record(), "row2").body is None


def test_not_a_body(vault: KeyVault) -> None:
    ws = workspace(vault)
    sealed = vault.seal_audit_body(ws, "req", "[1]")
    assert "error" in open_body(vault, ws, "req", sealed)


@pytest.mark.parametrize(
    "patterns",
    [["("], [""], ["a*"], [1], ["x" * 501], ["a"] * (MAX_PATTERNS + 1)],
)
def test_bad_patterns_are_refused(patterns: list[str]) -> None:
    with pytest.raises(InvalidRequest) as info:
        checked_patterns(patterns)
    assert info.value.param == "patterns"


def test_patterns_are_kept_once_in_order() -> None:
    assert checked_patterns(["b+", "a+", "b+"]) == ("b+", "a+")
