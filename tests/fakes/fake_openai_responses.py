"""OpenAI's ``POST /v1/responses`` for the fake OpenAI upstream (``FakeOpenAI``).

Scripted replies are shared with ``/v1/chat/completions``: a native ``Response`` object (or a list
of typed events) is sent as it is; a chat completion (or a list of ``chat.completion.chunk``
events) is answered as the same answer in the Responses format, so one script serves a test
whichever endpoint keyroute picks. Requests are checked the way OpenAI checks them where keyroute
could get it wrong: ``input`` (never ``messages``), ``store: false`` (keyroute keeps the state),
no chat-completions-only field.
"""

from __future__ import annotations

import time
from typing import Any

_CHAT_ONLY = (
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "response_format",
    "stream_options",
    "reasoning_effort",
    "n",
    "stop",
    "seed",
)


def check_request(body: dict[str, Any]) -> str | None:
    """What OpenAI would refuse in ``body`` (``None``: nothing)."""
    for field in _CHAT_ONLY:
        if field in body:
            return f"Unsupported parameter: '{field}'."
    if not isinstance(body.get("input"), list | str):
        return "Missing required parameter: 'input'."
    if body.get("store") is not False:
        return "keyroute must send 'store': false (it keeps the conversation itself)."
    for i, item in enumerate(body["input"] if isinstance(body["input"], list) else ()):
        if item.get("type") == "reasoning" and not str(item.get("id", "")).startswith("rs_"):
            return f"Invalid 'input[{i}].id': reasoning items are replayed with their own id."
    return None


def usage_of(chat: dict[str, Any] | None) -> dict[str, Any]:
    u = chat or {"prompt_tokens": 12, "completion_tokens": 7}
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
    reasoning = (u.get("completion_tokens_details") or {}).get("reasoning_tokens", 0)
    return {
        "input_tokens": u["prompt_tokens"],
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": u["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": u["prompt_tokens"] + u["completion_tokens"],
    }


def response(
    model: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    status: str = "completed",
) -> dict[str, Any]:
    return {
        "id": "resp_fake0123456789",
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "model": model,
        "output": output,
        "usage": usage,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "error": None,
    }


def message(text: str | None, refusal: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "output_text", "text": text, "annotations": []})
    if refusal:
        content.append({"type": "refusal", "refusal": refusal})
    return {
        "type": "message",
        "id": "msg_fake0",
        "status": "completed",
        "role": "assistant",
        "content": content,
    }


def call(n: int, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": f"fc_fake{n}",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }


def from_completion(chat: dict[str, Any]) -> dict[str, Any]:
    """A scripted chat completion as the same answer in the Responses format."""
    if chat.get("object") == "response" or "choices" not in chat:
        return chat
    choice = chat["choices"][0]
    msg = choice["message"]
    output: list[dict[str, Any]] = []
    if msg.get("content") or msg.get("refusal"):
        output.append(message(msg.get("content"), msg.get("refusal")))
    for n, tc in enumerate(msg.get("tool_calls") or ()):
        output.append(call(n, tc["id"], tc["function"]["name"], tc["function"]["arguments"]))
    status = "incomplete" if choice.get("finish_reason") == "length" else "completed"
    return response(chat.get("model", "gpt-4o-mini"), output, usage_of(chat.get("usage")), status)


def default_answer(body: dict[str, Any]) -> dict[str, Any]:
    return response(
        body.get("model", "gpt-4o-mini"),
        [message("Hello from the fake upstream.")],
        usage_of(None),
    )


class _Events:
    """Chat-completion chunks -> the Responses event sequence."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.out: list[tuple[str, dict[str, Any]]] = []
        self.items: list[dict[str, Any]] = []
        self.open: int | None = None
        self.calls: dict[int, int] = {}
        self.usage: dict[str, Any] | None = None
        self.finish: str | None = None

    def emit(self, kind: str, **fields: Any) -> None:
        self.out.append((kind, {"type": kind, "sequence_number": len(self.out), **fields}))

    def close_open(self) -> None:
        if self.open is None:
            return
        item = self.items[self.open]
        if item["type"] == "message":
            part = item["content"][0]
            where = {"item_id": item["id"], "output_index": self.open, "content_index": 0}
            self.emit("response.output_text.done", text=part["text"], **where)
            self.emit("response.content_part.done", part=part, **where)
        else:
            self.emit(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=self.open,
                arguments=item["arguments"],
            )
        item["status"] = "completed"
        self.emit("response.output_item.done", output_index=self.open, item=item)
        self.open = None

    def text(self, delta: str) -> None:
        if self.open is None or self.items[self.open]["type"] != "message":
            self.close_open()
            self.open = len(self.items)
            item = {**message(None), "id": f"msg_fake{self.open}", "status": "in_progress"}
            self.items.append(item)
            self.emit("response.output_item.added", output_index=self.open, item=item)
            part = {"type": "output_text", "text": "", "annotations": []}
            item["content"].append(part)
            where = {"item_id": item["id"], "output_index": self.open, "content_index": 0}
            self.emit("response.content_part.added", part=part, **where)
        item = self.items[self.open]
        item["content"][0]["text"] += delta
        where = {"item_id": item["id"], "output_index": self.open, "content_index": 0}
        self.emit("response.output_text.delta", delta=delta, **where)

    def tool(self, t: dict[str, Any]) -> None:
        index = t.get("index", 0)
        fn = t.get("function") or {}
        if index not in self.calls:
            self.close_open()
            self.open = len(self.items)
            self.calls[index] = self.open
            item = {**call(self.open, t.get("id", ""), fn.get("name", ""), ""), "id": "fc_x"}
            item["id"], item["status"] = f"fc_fake{self.open}", "in_progress"
            self.items.append(item)
            self.emit("response.output_item.added", output_index=self.open, item=dict(item))
        position = self.calls[index]
        item = self.items[position]
        if fn.get("arguments"):
            item["arguments"] += fn["arguments"]
            self.emit(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=position,
                delta=fn["arguments"],
            )

    def chunk(self, c: dict[str, Any]) -> None:
        if c.get("usage"):
            self.usage = usage_of(c["usage"])
        for choice in c.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("content"):
                self.text(delta["content"])
            for t in delta.get("tool_calls") or ():
                self.tool(t)
            self.finish = choice.get("finish_reason") or self.finish

    def end(self) -> None:
        self.close_open()
        status = "incomplete" if self.finish == "length" else "completed"
        final = response(self.model, self.items, self.usage or usage_of(None), status)
        self.emit(f"response.{status}", response=final)


def stream_events(chunks: list[Any], model: str) -> list[tuple[str, Any]]:
    """Scripted stream events as ``(event name, data)``; ``[DONE]`` stays a marker."""
    if (
        chunks
        and isinstance(chunks[0], dict)
        and str(chunks[0].get("type", "")).startswith("response.")
    ):
        return [(e["type"], e) for e in chunks]
    ev = _Events(model)
    head = response(model, [], None, "in_progress")
    ev.emit("response.created", response=head)
    ev.emit("response.in_progress", response=head)
    for c in chunks:
        if c == "[DONE]":  # a cut stream (``Reply.cut``) ends here, before it completes
            ev.out.append(("[DONE]", {}))
            ev.end()
        elif isinstance(c, dict):
            ev.chunk(c)
    return ev.out


def default_stream(model: str) -> list[tuple[str, Any]]:
    ev = _Events(model)
    head = response(model, [], None, "in_progress")
    ev.emit("response.created", response=head)
    for word in ("Hello", " there", "!"):
        ev.text(word)
    ev.end()
    return ev.out
