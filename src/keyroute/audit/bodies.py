"""Opt-in body logging: a workspace's request and response bodies in its audit log, redacted and
sealed with its data key.

Off by default: no prompt or completion text is stored anywhere. A workspace that turns it on
(``keyroute audit body-logging``, ``/admin/v1/workspaces/{id}/audit/body-logging``) gets each
request's body and the answer it got (a stream: the bytes relayed) in the audit row's ``body``.

Invariants:
- The request path only keeps references to bytes it already has (cut at ``max_bytes``); the
  audit writer redacts (``Redactor``: the default rules plus the workspace's patterns) and seals
  (``KeyVault.seal_audit_body``, bound to the workspace and the request id) in the background.
- The text is redacted before it is encrypted: the database never holds a secret, even sealed.
  Deleting the workspace deletes its data key, which shreds every body sealed with it.
- The export opens bodies for the workspace's own log only (``body`` in JSON lines).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from keyroute.audit.redact import Redactor, custom_rule
from keyroute.core.errors import ConfigError, InvalidRequest
from keyroute.core.record import BodyCapture, RequestRecord
from keyroute.storage.base import WorkspaceRecord

SETTING = "audit.body_logging"  # the workspace setting that holds its ``BodyLogging``
MAX_BODY_BYTES = 65_536
MAX_PATTERNS = 50
_MAX_PATTERN_CHARS = 500


class Sealer(Protocol):
    """What seals and opens bodies with a workspace's data key (``KeyVault``)."""

    def seal_audit_body(self, workspace: WorkspaceRecord, request_id: str, text: str) -> bytes: ...

    def open_audit_body(
        self, workspace: WorkspaceRecord, request_id: str, sealed: bytes
    ) -> str: ...


@dataclass(frozen=True, slots=True)
class BodyLogging:
    """Whether a workspace logs bodies, and its own redaction patterns (regular expressions)."""

    enabled: bool = False
    patterns: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> BodyLogging:
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(enabled=bool(raw.get("enabled")), patterns=tuple(raw.get("patterns") or ()))

    def dump(self) -> str:
        return json.dumps({"enabled": self.enabled, "patterns": list(self.patterns)})


def checked_patterns(patterns: list[str]) -> tuple[str, ...]:
    """``patterns`` validated (each compiles, matches something, is not too long), or a 400."""
    if len(patterns) > MAX_PATTERNS:
        raise InvalidRequest(f"At most {MAX_PATTERNS} redaction patterns.", param="patterns")
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern or len(pattern) > _MAX_PATTERN_CHARS:
            raise InvalidRequest(
                f"A redaction pattern is a regular expression of 1 to {_MAX_PATTERN_CHARS} "
                "characters.",
                param="patterns",
            )
        try:
            custom_rule("custom", pattern)
        except ValueError as exc:
            raise InvalidRequest(f"Invalid redaction pattern: {exc}.", param="patterns") from None
    return tuple(dict.fromkeys(patterns))


def body_capture(
    vault: Sealer, workspace: WorkspaceRecord, policy: BodyLogging
) -> BodyCapture | None:
    """What the request path carries for a workspace that logs bodies (``None``: it does not)."""
    if not policy.enabled:
        return None
    rules = [custom_rule(f"custom-{n}", p) for n, p in enumerate(policy.patterns, 1)]
    redactor = Redactor(rules)

    def seal(request_id: str, text: str) -> bytes:
        return vault.seal_audit_body(workspace, request_id, redactor.text(text))

    return BodyCapture(seal=seal, max_bytes=MAX_BODY_BYTES)


def _text(data: bytes | None, limit: int) -> tuple[str | None, bool]:
    if data is None:
        return None, False
    return data[:limit].decode("utf-8", "replace"), len(data) > limit


def sealed_body(record: RequestRecord) -> bytes | None:
    """The record's bodies as the audit row keeps them (redacted, sealed), if it logs them."""
    capture = record.body_capture
    if capture is None or (record.request_body is None and record.response_body is None):
        return None
    request, cut_request = _text(record.request_body, capture.max_bytes)
    response, cut_response = _text(record.response_body, capture.max_bytes)
    text = json.dumps(
        {"request": request, "response": response, "truncated": cut_request or cut_response},
        separators=(",", ":"),
    )
    return capture.seal(record.request_id, text)


def open_body(
    vault: Sealer, workspace: WorkspaceRecord, request_id: str, sealed: bytes
) -> dict[str, object]:
    """A logged body, opened for the workspace's export."""
    try:
        opened = json.loads(vault.open_audit_body(workspace, request_id, sealed))
    except ConfigError:
        return {"error": "this body cannot be decrypted with the workspace's data key"}
    return opened if isinstance(opened, dict) else {"error": "not a logged body"}
