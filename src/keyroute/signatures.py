"""Provider state that must travel with a tool call but that OpenAI-format clients drop.

Gemini 3+ requires each function call's ``thoughtSignature`` to be sent back verbatim on the next
turn; an OpenAI SDK client never sees it. The gateway records the signature under the tool call's
id when the response passes through and puts it back when the client replays that call. Bounded
(least recently used entries go first) and safe to lose: a missing signature makes the provider
re-think, it does not corrupt anything.
"""

from __future__ import annotations

from collections import OrderedDict


class SignatureCache:
    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, str], str] = OrderedDict()

    def put(self, workspace_id: str, call_id: str, signature: str) -> None:
        key = (workspace_id, call_id)
        self._entries[key] = signature
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def get(self, workspace_id: str, call_id: str) -> str | None:
        key = (workspace_id, call_id)
        signature = self._entries.get(key)
        if signature is not None:
            self._entries.move_to_end(key)
        return signature

    def __len__(self) -> int:
        return len(self._entries)
