"""``DemoTransport``: the ``demo://`` transport, an in-process simulated OpenAI-format server.

It exists so that a first call works without any provider account. Everything about it is
simulated and labelled so (model ids ``demo/...``, answers start with ``[demo]``): it answers
deterministically from the request, streams word by word, calls a tool when the request forces
one, and reports usage with a realistic token estimate (about four characters a token). It speaks
the exact OpenAI wire format, so the request path it exercises is the real one: the ``demo``
provider is the ``openai`` adapter pointed at ``demo://``, and the upstream sender has this
transport mounted for that scheme. A streamed answer is one chunk per SSE event.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec

from keyroute.providers.base import UpstreamRequest
from keyroute.providers.demo import demo_models
from keyroute.upstream.transport import MemoryResponse


def _tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)


def _prompt_text(body: dict[str, Any]) -> str:
    out = []
    for m in body.get("messages", []):
        content = m.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(out)


def _last_user(body: dict[str, Any]) -> str:
    for m in reversed(body.get("messages", [])):
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _answer(model: str, body: dict[str, Any]) -> str:
    question = _last_user(body).strip()
    if model == "echo":
        return f"[demo] {question}" if question else "[demo] (empty message)"
    digest = hashlib.sha256(question.encode()).hexdigest()[:8]
    words = len(question.split())
    text = (
        f"[demo] This is a simulated answer from keyroute's demo provider (ref {digest}). "
        f"Your message had {words} word{'s' if words != 1 else ''}."
    )
    if model == "smart":
        text += (
            " Add a real provider key with `keyroute provider-key add` and call a model such as "
            "openai/gpt-4o-mini to get real answers."
        )
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(limit, int) and limit > 0:
        text = " ".join(text.split(" ")[:limit])
    return text


def _forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    tools = body.get("tools") or []
    if not tools or choice in (None, "auto", "none"):
        return None
    if isinstance(choice, dict):
        name = choice.get("function", {}).get("name")
        return next((t for t in tools if t.get("function", {}).get("name") == name), None)
    return tools[0] if isinstance(tools[0], dict) else None


class DemoTransport:
    """The ``demo://`` transport: nothing to start or close, no I/O."""

    def __init__(self) -> None:
        self._simulator = DemoUpstream()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def open(self, request: UpstreamRequest, *, provider: str) -> MemoryResponse:
        status, chunks = self._simulator.answer(request.body)
        headers = {"content-type": "text/event-stream" if request.stream else "application/json"}
        return MemoryResponse(status, headers, _chunks(chunks))


async def _chunks(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


class DemoUpstream:
    """Answers ``UpstreamRequest`` bodies for ``demo://`` URLs; stateless and deterministic."""

    def complete(self, body: bytes) -> tuple[int, bytes]:
        """The status and whole body of the answer to ``body``."""
        status, chunks = self.answer(body)
        return status, b"".join(chunks)

    def answer(self, body: bytes) -> tuple[int, list[bytes]]:
        """The status and body chunks (one per SSE event when streamed) of the answer."""
        try:
            req = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return 400, [b'{"error":{"message":"bad JSON","type":"invalid_request_error"}}']
        model = str(req.get("model", "fast"))
        if f"demo/{model}" not in demo_models():
            message = f"The demo provider has no model '{model}'. Try demo/fast."
            err = {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": "model",
                    "code": "model_not_found",
                }
            }
            return 404, [msgspec.json.encode(err)]
        if req.get("stream"):
            return 200, list(self._stream(model, req))
        return 200, [msgspec.json.encode(self._completion(model, req))]

    def _usage(self, req: dict[str, Any], completion: str) -> dict[str, Any]:
        prompt = _tokens(_prompt_text(req)) + 3 * len(req.get("messages", []))
        output = _tokens(completion)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": output,
            "total_tokens": prompt + output,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }

    def _completion(self, model: str, req: dict[str, Any]) -> dict[str, Any]:
        tool = _forced_tool(req)
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
        if tool is not None:
            call = self._call(tool, req)
            message["tool_calls"] = [call]
            finish, produced = "tool_calls", call["function"]["arguments"]
        else:
            message["content"] = produced = _answer(model, req)
            finish = "stop"
        return {
            "id": "chatcmpl-demo-" + hashlib.sha256(_prompt_text(req).encode()).hexdigest()[:20],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            ],
            "usage": self._usage(req, produced),
            "system_fingerprint": "fp_demo",
        }

    def _call(self, tool: dict[str, Any], req: dict[str, Any]) -> dict[str, Any]:
        fn = tool.get("function", {})
        props = (fn.get("parameters") or {}).get("properties") or {}
        args = {name: _sample(spec, _last_user(req)) for name, spec in props.items()}
        digest = hashlib.sha256(msgspec.json.encode(args)).hexdigest()[:24]
        return {
            "id": f"call_demo{digest}",
            "type": "function",
            "function": {
                "name": fn.get("name", "tool"),
                "arguments": msgspec.json.encode(args).decode(),
            },
        }

    def _stream(self, model: str, req: dict[str, Any]) -> Iterator[bytes]:
        full = self._completion(model, req)
        base = {
            "id": full["id"],
            "object": "chat.completion.chunk",
            "created": full["created"],
            "model": model,
        }
        message = full["choices"][0]["message"]

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            body = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return b"data: " + msgspec.json.encode(body) + b"\n\n"

        yield chunk({"role": "assistant", "content": ""})
        if message.get("tool_calls"):
            call = message["tool_calls"][0]
            yield chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["function"]["name"], "arguments": ""},
                        }
                    ]
                }
            )
            yield chunk(
                {
                    "tool_calls": [
                        {"index": 0, "function": {"arguments": call["function"]["arguments"]}}
                    ]
                }
            )
        else:
            words = message["content"].split(" ")
            for i, word in enumerate(words):
                yield chunk({"content": word if i == 0 else " " + word})
        yield chunk({}, full["choices"][0]["finish_reason"])
        if (req.get("stream_options") or {}).get("include_usage"):
            usage = {**base, "choices": [], "usage": full["usage"]}
            yield b"data: " + msgspec.json.encode(usage) + b"\n\n"
        yield b"data: [DONE]\n\n"


def _sample(spec: Any, text: str) -> Any:
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind in ("integer", "number"):
        return len(text.split())
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    enum = spec.get("enum") if isinstance(spec, dict) else None
    if enum:
        return enum[0]
    return text[:40] or "demo"
