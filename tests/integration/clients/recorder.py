"""What real clients send to the gateway: an ASGI wrapper that records each request, and the
transcripts kept of it under ``tests/transcripts/clients/``.

A transcript is the *shape* of what one client sent on one call: its method and path, the
names of its headers (with the values of the ones that select features, such as
``anthropic-beta``) and every JSON path of its body, array indexes folded to ``[]``. Values are
left out because they hold session ids, dates and temporary paths; schemas are not descended
into. A test compares the shape a client sends today with its transcript, so a client upgrade
that starts sending something new fails until the transcript is re-recorded (run the tests with
``KEYROUTE_RECORD_CLIENTS=1``) and the codecs are checked against it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRANSCRIPTS = Path(__file__).resolve().parents[2] / "transcripts" / "clients"
_KEPT_HEADERS = frozenset({"anthropic-beta", "anthropic-version", "content-type"})
_OPAQUE = frozenset({"input_schema", "parameters", "schema", "json_schema", "properties"})
_SKIPPED_HEADERS = ("x-stainless-", "user-agent", "host", "content-length", "x-claude-code-")


@dataclass
class Sent:
    """One request as the client sent it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int = 0
    answer: bytes = b""  # the body of an error answer
    answer_headers: dict[str, str] = field(default_factory=dict)

    def shape(self) -> dict[str, Any]:
        """The transcript form of this request (see the module docstring)."""
        headers = sorted(
            h for h in self.headers if not any(h.startswith(p) for p in _SKIPPED_HEADERS)
        )
        return {
            "method": self.method,
            "path": self.path,
            "headers": headers,
            "feature_headers": {k: v for k, v in self.headers.items() if k in _KEPT_HEADERS},
            "body": sorted(_paths(self.body, "")),
        }


def _paths(value: Any, prefix: str) -> set[str]:
    if isinstance(value, dict):
        out = {prefix} if prefix else set()
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            out |= {path} if key in _OPAQUE else _paths(item, path)
        return out
    if isinstance(value, list):
        out = {prefix}
        for item in value:
            out |= _paths(item, prefix + "[]")
        return out
    return {prefix}


@dataclass
class Recorder:
    """ASGI middleware keeping every request body a client sends to ``app``."""

    app: Any
    sent: list[Sent] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        query = scope.get("query_string", b"").decode()
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        path = scope["path"] + (f"?{query}" if query else "")
        self.sent.append(Sent(scope["method"], path, headers, body))
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}

        sent = self.sent[-1]

        async def keep(message: Any) -> None:
            if message["type"] == "http.response.start":
                sent.status = message["status"]
                raw_headers = message.get("headers", [])
                sent.answer_headers = {k.decode().lower(): v.decode() for k, v in raw_headers}
            elif message["type"] == "http.response.body" and sent.status >= 400:
                sent.answer += message.get("body", b"")
            await send(message)

        await self.app(scope, replay, keep)


def check_transcript(client: str, case: str, sent: Sent | list[Sent]) -> None:
    """``sent`` (one request, or the requests of one exchange) has the shape recorded for
    ``client``/``case`` (recorded anew when asked)."""
    path = TRANSCRIPTS / client / f"{case}.json"
    shape: Any = sent.shape() if isinstance(sent, Sent) else [s.shape() for s in sent]
    if os.environ.get("KEYROUTE_RECORD_CLIENTS") == "1" or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(shape, indent=1) + "\n")
        if os.environ.get("CI"):
            raise AssertionError(f"{path} was missing: record it and commit it")
        return
    assert json.loads(path.read_text()) == shape, (
        f"{client} now sends a different request for {case}: re-record {path} "
        "(KEYROUTE_RECORD_CLIENTS=1) after checking the codecs understand it"
    )
