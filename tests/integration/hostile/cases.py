"""The hostile-input catalogue: named requests against every public endpoint, each with the
status it must get and the error format it must be answered in.

Every case is refused (4xx) and must leave the fake upstreams untouched. Requests are raw bytes
(``conftest.build_request``), so a case can hold what no HTTP library would send: non-latin-1
header bytes, broken framing, a NUL in a path. ``auth`` names the credential the test adds.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

Auth = Literal["gateway", "x-api-key", "admin", "none"]
Format = Literal["openai", "anthropic"]
ANY = "<any>"  # the param is not asserted (the message names it, or there is none)


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str | bytes
    body: bytes = b""
    status: int = 400
    fmt: Format = "openai"
    param: str | None = ANY
    auth: Auth = "gateway"
    headers: tuple[tuple[bytes, bytes], ...] = ()
    raw: bytes | None = None  # the whole request, sent as is (no auth added)


def j(value: Any) -> bytes:
    return msgspec.json.encode(value)


def change(base: dict[str, Any], **fields: Any) -> bytes:
    out = copy.deepcopy(base)
    for key, value in fields.items():
        if value is DROP:
            out.pop(key, None)
        else:
            out[key] = value
    return j(out)


DROP = object()
USER = [{"role": "user", "content": "hi"}]
CHAT = {"model": "openai/gpt-4o-mini", "messages": USER}
CLAUDE = "anthropic/claude-sonnet-4-5"
GPT = "openai/gpt-4o-mini"
MESSAGES = {"model": "anthropic/claude-sonnet-4-5", "max_tokens": 16, "messages": USER}
COUNT = {"model": "anthropic/claude-sonnet-4-5", "messages": USER}
EMBED = {"model": "openai/text-embedding-3-small", "input": "hi"}
RESPONSES = {"model": "openai/gpt-4o-mini", "input": "hi"}

# Model ids that must be refused (400, ``model``) before any provider is asked.
BAD_MODEL_IDS: dict[str, str] = {
    "cyrillic-homoglyph": "openai/gpt-4\u043e",
    "emoji": "openai/gpt-4o\U0001f600",
    "fullwidth": "\uff4f\uff50\uff45\uff4e\uff41\uff49/gpt-4o",
    "crlf-injection": "openai/gpt-4o\r\nx-injected: 1",
    "nul": "openai/gpt-4o\x00",
    "100kb": "openai/" + "a" * 100_000,
    "257-chars": "openai/" + "a" * 250,
    "empty": "",
    "space": "openai/gpt 4o",
    "percent-encoding": "openai/gpt-4o%0d%0a",
    "dot-dot-traversal": "gemini/../../v1beta/files",
    "zero-width-space": "openai/gpt\u200b-4o",
    "rtl-override": "openai/\u202egpt-4o",
    "backslash": "openai\\gpt-4o",
    "query-string": "gemini/gemini-2.5-flash?alt=sse",
    "tab": "openai/gpt\t4o",
}
BAD_MODEL_TYPES: dict[str, Any] = {
    "model-null": None,
    "model-number": 42,
    "model-list": ["openai/gpt-4o"],
    "model-object": {"id": "openai/gpt-4o"},
    "model-bool": True,
}


def chat(name: str, body: bytes, status: int = 400, param: str | None = ANY, **kw: Any) -> Case:
    return Case(f"chat/{name}", "POST", "/v1/chat/completions", body, status, "openai", param, **kw)


def messages(name: str, body: bytes, status: int = 400, param: str | None = ANY, **kw: Any) -> Case:
    kw.setdefault("auth", "x-api-key")
    return Case(f"messages/{name}", "POST", "/v1/messages", body, status, "anthropic", param, **kw)


def count(name: str, body: bytes, status: int = 400, param: str | None = ANY, **kw: Any) -> Case:
    kw.setdefault("auth", "x-api-key")
    path = "/v1/messages/count_tokens"
    return Case(f"count_tokens/{name}", "POST", path, body, status, "anthropic", param, **kw)


def embed(name: str, body: bytes, status: int = 400, param: str | None = ANY, **kw: Any) -> Case:
    return Case(f"embeddings/{name}", "POST", "/v1/embeddings", body, status, "openai", param, **kw)


def responses(
    name: str, body: bytes, status: int = 400, param: str | None = ANY, **kw: Any
) -> Case:
    return Case(f"responses/{name}", "POST", "/v1/responses", body, status, "openai", param, **kw)


def models(name: str, path: str | bytes, status: int = 400, **kw: Any) -> Case:
    kw.setdefault("param", "model" if status == 400 else ANY)
    return Case(f"models/{name}", "GET", path, status=status, **kw)


def admin(
    name: str,
    method: str,
    path: str,
    body: bytes = b"",
    status: int = 400,
    param: str | None = ANY,
    **kw: Any,
) -> Case:
    kw.setdefault("auth", "admin")
    return Case(f"admin/{name}", method, "/admin/v1" + path, body, status, "openai", param, **kw)


def _model_id_cases() -> list[Case]:
    out: list[Case] = []
    for label, model in BAD_MODEL_IDS.items():
        out.append(chat(f"model-{label}", change(CHAT, model=model), param="model"))
        out.append(messages(f"model-{label}", change(MESSAGES, model=model)))
        out.append(count(f"model-{label}", change(COUNT, model=model)))
        out.append(embed(f"model-{label}", change(EMBED, model=model), param="model"))
        out.append(responses(f"model-{label}", change(RESPONSES, model=model), param="model"))
    for label, value in BAD_MODEL_TYPES.items():
        out.append(chat(label, change(CHAT, model=value), param="model"))
        out.append(messages(label, change(MESSAGES, model=value)))
        out.append(embed(label, change(EMBED, model=value), param="model"))
    return out


DEEP = b'{"model":"openai/gpt-4o","messages":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
ELEVEN_MB = (
    b'{"model":"openai/gpt-4o","messages":[{"role":"user","content":"' + b"a" * (11 << 20) + b'"}]}'
)
BIG_DECLARED = ((b"content-length", str(20 << 20).encode()),)

CHAT_CASES = [
    chat("auth-missing", j(CHAT), 401, auth="none"),
    chat(
        "auth-wrong-key",
        j(CHAT),
        401,
        auth="none",
        headers=((b"authorization", b"Bearer kr-wrong"),),
    ),
    chat(
        "auth-basic-scheme",
        j(CHAT),
        401,
        auth="none",
        headers=((b"authorization", b"Basic a3I6eA=="),),
    ),
    chat("auth-empty-bearer", j(CHAT), 401, auth="none", headers=((b"authorization", b"Bearer "),)),
    chat(
        "auth-non-latin1-key",
        j(CHAT),
        401,
        auth="none",
        headers=((b"authorization", "Bearer kr-\u043a\u043b\u044e\u0447".encode()),),
    ),
    chat(
        "auth-60kb-key",
        j(CHAT),
        401,
        auth="none",
        headers=((b"authorization", b"Bearer " + b"k" * 60_000),),
    ),
    chat("auth-wrong-x-api-key", j(CHAT), 401, auth="none", headers=((b"x-api-key", b"kr-nope"),)),
    chat("body-empty", b""),
    chat("body-not-json", b"this is not json"),
    chat("body-json-array", b"[]"),
    chat("body-json-string", b'"hello"'),
    chat("body-json-null", b"null"),
    chat("body-truncated", b'{"model": "openai/gpt-4o", "messages": ['),
    chat("body-100k-deep-nesting", DEEP),
    chat(
        "body-invalid-utf8",
        b'{"model":"openai/gpt-4o","messages":[{"role":"user","content":"\xff\xfe"}]}',
    ),
    chat("body-utf8-bom", b"\xef\xbb\xbf" + j(CHAT)),
    chat("body-nan-literal", b'{"model":"openai/gpt-4o","messages":[],"temperature":NaN}'),
    chat("body-over-the-limit", ELEVEN_MB, 413),
    chat("body-declared-over-the-limit", b"{}", 413, headers=BIG_DECLARED),
    chat("content-length-not-a-number", b"{}", headers=((b"content-length", b"12abc"),)),
    chat("model-missing", change(CHAT, model=DROP), param="model"),
    chat("model-unknown-provider", change(CHAT, model="azure/gpt-4o"), 404, param="model"),
    chat("messages-missing", change(CHAT, messages=DROP), param="messages"),
    chat("messages-not-a-list", change(CHAT, messages="hi"), param="messages"),
    chat("messages-empty", change(CHAT, messages=[]), param="messages"),
    chat("message-not-an-object", change(CHAT, messages=["hi"])),
    chat("message-role-invalid", change(CHAT, messages=[{"role": "root", "content": "x"}])),
    chat("message-role-missing", change(CHAT, messages=[{"content": "x"}])),
    chat("message-content-number", change(CHAT, messages=[{"role": "user", "content": 5}])),
    chat(
        "content-part-unknown-type",
        change(CHAT, messages=[{"role": "user", "content": [{"type": "evil", "x": 1}]}]),
    ),
    chat(
        "image-url-not-a-string",
        change(
            CHAT,
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": 5}}]}
            ],
        ),
    ),
    chat("temperature-string", change(CHAT, temperature="hot"), param="temperature"),
    chat("temperature-out-of-range", change(CHAT, temperature=-3), param="temperature"),
    chat("temperature-1e999", change(CHAT, temperature=1e308).replace(b"1e308", b"1e999")),
    chat("max-tokens-negative", change(CHAT, max_tokens=-1), param="max_tokens"),
    chat("max-tokens-string", change(CHAT, max_tokens="many"), param="max_tokens"),
    chat("n-two", change(CHAT, n=2), param="n"),
    chat("stream-string", change(CHAT, stream="yes"), param="stream"),
    chat("tools-not-a-list", change(CHAT, tools="all")),
    chat("tool-without-function", change(CHAT, tools=[{"type": "function"}])),
    chat("tool-choice-number", change(CHAT, tool_choice=5)),
    chat("response-format-xml", change(CHAT, response_format={"type": "xml"})),
    chat("stop-number", change(CHAT, stop=5)),
    chat("logprobs-string-to-anthropic", change(CHAT, model=CLAUDE, logprobs="yes")),
    chat("unknown-field-to-anthropic", change(CHAT, model=CLAUDE, evil_field=1)),
    chat("unknown-field-to-gemini", change(CHAT, model="gemini/gemini-2.5-flash", evil=1)),
    chat("stream-options-string", change(CHAT, stream=True, stream_options="usage")),
    Case("chat/method-get", "GET", "/v1/chat/completions", status=405),
    Case("chat/method-put", "PUT", "/v1/chat/completions", j(CHAT), status=405),
]

MESSAGES_CASES = [
    messages("auth-missing", j(MESSAGES), 401, auth="none"),
    messages(
        "auth-wrong-x-api-key",
        j(MESSAGES),
        401,
        auth="none",
        headers=((b"x-api-key", b"kr-wrong"),),
    ),
    messages(
        "auth-wrong-bearer",
        j(MESSAGES),
        401,
        auth="none",
        headers=((b"authorization", b"Bearer sk-ant"),),
    ),
    messages("body-empty", b""),
    messages("body-not-json", b"<xml/>"),
    messages("body-json-array", b"[1,2]"),
    messages(
        "body-100k-deep-nesting", DEEP.replace(b"openai/gpt-4o", b"anthropic/claude-sonnet-4-5")
    ),
    messages(
        "body-invalid-utf8",
        b'{"model":"x","max_tokens":1,"messages":[{"role":"user","content":"\xc3"}]}',
    ),
    messages("body-over-the-limit", ELEVEN_MB, 413),
    messages("body-declared-over-the-limit", b"{}", 413, headers=BIG_DECLARED),
    messages("max-tokens-missing", change(MESSAGES, max_tokens=DROP)),
    messages("max-tokens-string", change(MESSAGES, max_tokens="x")),
    messages("max-tokens-negative", change(MESSAGES, max_tokens=-5)),
    messages("max-tokens-zero", change(MESSAGES, max_tokens=0)),
    messages("messages-empty", change(MESSAGES, messages=[])),
    messages("messages-missing", change(MESSAGES, messages=DROP)),
    messages("messages-not-a-list", change(MESSAGES, messages={"role": "user"})),
    messages(
        "content-block-unknown-type-to-openai",
        change(MESSAGES, model=GPT, messages=[{"role": "user", "content": [{"type": "evil"}]}]),
    ),
    messages(
        "image-source-bad-type-to-openai",
        change(
            MESSAGES,
            model=GPT,
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image", "source": {"type": "ftp", "data": "x"}}],
                }
            ],
        ),
    ),
    messages("system-number", change(MESSAGES, system=123)),
    messages("tools-string-to-openai", change(MESSAGES, model=GPT, tools="all")),
    messages("tool-missing-input-schema", change(MESSAGES, tools=[{"name": "t"}])),
    messages("tool-choice-bogus", change(MESSAGES, tool_choice={"type": "bogus"})),
    messages("stream-string", change(MESSAGES, stream="yes")),
    messages("temperature-string", change(MESSAGES, temperature="hot")),
    messages("thinking-bogus-to-openai", change(MESSAGES, model=GPT, thinking={"type": "bogus"})),
    messages("metadata-string-to-openai", change(MESSAGES, model=GPT, metadata="x")),
    messages("stop-sequences-string", change(MESSAGES, stop_sequences="STOP")),
    Case(
        "messages/method-get", "GET", "/v1/messages", status=405, fmt="anthropic", auth="x-api-key"
    ),
    Case(
        "messages/method-delete",
        "DELETE",
        "/v1/messages",
        status=405,
        fmt="anthropic",
        auth="x-api-key",
    ),
]

COUNT_CASES = [
    count("auth-missing", j(COUNT), 401, auth="none"),
    count("body-empty", b""),
    count("body-not-json", b"{"),
    count("body-over-the-limit", ELEVEN_MB, 413),
    count("messages-missing", change(COUNT, messages=DROP)),
    count("messages-null", change(COUNT, messages=None)),
    count("messages-empty", change(COUNT, messages=[])),
    count("model-missing", change(COUNT, model=DROP)),
    count("system-number", change(COUNT, system=5)),
    count("model-unknown-provider", change(COUNT, model="azure/gpt-4o"), 404),
    Case(
        "count_tokens/method-get",
        "GET",
        "/v1/messages/count_tokens",
        status=405,
        fmt="anthropic",
        auth="x-api-key",
    ),
]

EMBED_CASES = [
    embed("auth-missing", j(EMBED), 401, auth="none"),
    embed("body-empty", b""),
    embed("body-not-json", b"embeddings please"),
    embed("body-over-the-limit", ELEVEN_MB, 413),
    embed("input-missing", change(EMBED, input=DROP), param="input"),
    embed("input-object", change(EMBED, input={"text": "x"}), param="input"),
    embed("input-floats", change(EMBED, input=[1.5, 2.5]), param="input[0]"),
    embed("input-mixed-token-arrays", change(EMBED, input=[[1, "a"]]), param="input[0][1]"),
    embed("input-null", change(EMBED, input=None), param="input"),
    embed("encoding-format-hex", change(EMBED, encoding_format="hex"), param="encoding_format"),
    embed("dimensions-negative", change(EMBED, dimensions=-1), param="dimensions"),
    embed("dimensions-string", change(EMBED, dimensions="big"), param="dimensions"),
    embed("model-missing", change(EMBED, model=DROP), param="model"),
    embed(
        "model-without-embeddings",
        change(EMBED, model="anthropic/claude-sonnet-4-5"),
        param="model",
    ),
    embed("user-number", change(EMBED, user=123), param="user"),
    Case("embeddings/method-get", "GET", "/v1/embeddings", status=405),
]

IMAGE = {"type": "input_image", "image_url": "data:xx"}
RESPONSES_CASES = [
    responses("auth-missing", j(RESPONSES), 401, auth="none"),
    responses("body-empty", b""),
    responses("body-not-json", b"respond please"),
    responses("body-invalid-utf8", b'{"model":"openai/gpt-4o-mini","input":"\xff\xfe"}'),
    responses("body-over-the-limit", ELEVEN_MB, 413),
    responses("input-missing", change(RESPONSES, input=DROP), param="input"),
    responses("input-empty-list", change(RESPONSES, input=[]), param="input"),
    responses("input-object", change(RESPONSES, input={}), param="input"),
    responses(
        "input-image-bad-data-url",
        change(RESPONSES, input=[{"role": "user", "content": [IMAGE]}]),
        param="input[0].content[0].image_url",
    ),
    responses(
        "call-id-number",
        change(RESPONSES, input=[{"type": "function_call_output", "call_id": 5, "output": "x"}]),
        param="input[0].call_id",
    ),
    responses("max-output-tokens-negative", change(RESPONSES, max_output_tokens=-1)),
    responses("temperature-string", change(RESPONSES, temperature="hot"), param="temperature"),
    responses("stream-string", change(RESPONSES, stream="yes"), param="stream"),
    responses("truncation-unknown", change(RESPONSES, truncation="maybe"), param="truncation"),
    responses("conversation-refused", change(RESPONSES, conversation="conv_1")),
    responses(
        "previous-response-id-100kb",
        change(RESPONSES, previous_response_id="x" * 100_000),
        param="previous_response_id",
    ),
    responses(
        "previous-response-id-control-characters",
        change(RESPONSES, previous_response_id="resp_\u0000\r\n"),
        param="previous_response_id",
    ),
    Case("responses/get-unknown-id", "GET", "/v1/responses/resp_x", status=404),
    Case("responses/get-control-characters", "GET", "/v1/responses/%00%0d%0a", status=404),
    Case("responses/delete-long-id", "DELETE", "/v1/responses/" + "y" * 5000, status=404),
]

MODELS_CASES = [
    models("auth-missing", "/v1/models", 401, auth="none"),
    models(
        "auth-missing-anthropic-sdk",
        "/v1/models",
        401,
        auth="none",
        fmt="anthropic",
        headers=((b"anthropic-version", b"2023-06-01"),),
    ),
    models("id-cyrillic-homoglyph", "/v1/models/openai%2Fgpt-4%D0%BE"),
    models("id-crlf", "/v1/models/openai%2Fgpt%0D%0Ax-injected:%201", 404, param=None),
    models("id-nul", "/v1/models/openai%2Fgpt%00"),
    models("id-300-chars", "/v1/models/openai%2F" + "a" * 300),
    models("id-dot-dot", "/v1/models/../admin/v1/workspaces"),
    models("id-emoji", "/v1/models/%F0%9F%98%80"),
    models("id-space", "/v1/models/openai%2Fgpt%204o"),
    models(
        "id-homoglyph-anthropic-sdk",
        "/v1/models/anthropic%2Fclaude-%D1%95onnet",
        fmt="anthropic",
        headers=((b"anthropic-version", b"2023-06-01"),),
    ),
    Case("models/method-post", "POST", "/v1/models", b"{}", status=405),
    Case("models/method-delete", "DELETE", "/v1/models/openai%2Fgpt-4o", status=405),
]

HTTP_CASES = [
    Case("http/not-http", "GET", "/", raw=b"HELLO THERE\r\n\r\n"),
    Case("http/header-with-nul", "GET", "/", raw=b"GET /v1/models HTTP/1.1\r\nx-a: a\x00b\r\n\r\n"),
    Case(
        "http/header-name-with-space", "GET", "/", raw=b"GET /v1/models HTTP/1.1\r\nx a: b\r\n\r\n"
    ),
    Case(
        "http/duplicate-content-length",
        "POST",
        "/",
        raw=b"POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 1\r\n"
        b"content-length: 2\r\n\r\nab",
    ),
    Case(
        "http/smuggling-te-and-cl",
        "POST",
        "/",
        raw=b"POST /v1/chat/completions HTTP/1.1\r\ncontent-length: 4\r\n"
        b"transfer-encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    Case(
        "http/bad-chunk-size",
        "POST",
        "/",
        raw=b"POST /v1/chat/completions HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nab\r\n",
    ),
    Case(
        "http/head-over-64kb", "GET", "/v1/models", status=431, headers=((b"x-big", b"a" * 70_000),)
    ),
    Case("http/url-over-64kb", "GET", "/v1/models?" + "a" * 70_000, status=431),
    Case(
        "http/head-over-64kb-anthropic",
        "POST",
        "/v1/messages",
        status=431,
        fmt="anthropic",
        headers=((b"x-big", b"a" * 70_000),),
    ),
    Case("http/non-ascii-path", "GET", "/v1/models/\u0430".encode(), param=None),
    Case("http/unknown-path", "GET", "/v1/../../etc/passwd", status=404, param=None),
    Case("http/method-brew", "BREW", "/v1/chat/completions", param=None),
]

WS = "/workspaces/default"
PK = {"provider": "openai-compatible", "key": "sk-test-0123456789"}

ADMIN_CASES = [
    admin("auth-missing", "GET", "/workspaces", status=401, auth="none"),
    admin(
        "auth-wrong-token",
        "GET",
        "/workspaces",
        status=401,
        auth="none",
        headers=((b"authorization", b"Bearer kra-wrong"),),
    ),
    admin(
        "auth-basic-scheme",
        "GET",
        "/workspaces",
        status=401,
        auth="none",
        headers=((b"authorization", b"Basic a3JhLXg="),),
    ),
    admin("auth-gateway-key-is-not-admin", "GET", "/workspaces", status=401, auth="gateway"),
    admin("auth-missing-on-rotate-master", "POST", "/vault/rotate-master", status=401, auth="none"),
    admin("workspace-body-not-json", "POST", "/workspaces", b"{name}"),
    admin("workspace-body-array", "POST", "/workspaces", b"[]"),
    admin("workspace-name-missing", "POST", "/workspaces", j({}), param="name"),
    admin("workspace-name-number", "POST", "/workspaces", j({"name": 5}), param="name"),
    admin("workspace-name-crlf", "POST", "/workspaces", j({"name": "a\r\nb"}), param="name"),
    admin(
        "workspace-name-ansi-escape",
        "POST",
        "/workspaces",
        j({"name": "\x1b[31mred"}),
        param="name",
    ),
    admin("workspace-name-unicode", "POST", "/workspaces", j({"name": "\u0430dmin"}), param="name"),
    admin("workspace-name-64-chars", "POST", "/workspaces", j({"name": "a" * 64}), param="name"),
    admin("workspace-name-taken", "POST", "/workspaces", j({"name": "default"}), 409, param="name"),
    admin("workspace-plan-unknown", "POST", "/workspaces", j({"name": "p1", "plan": "platinum"})),
    admin(
        "workspace-body-2mb", "POST", "/workspaces", j({"name": "x", "pad": "a" * (2 << 20)}), 413
    ),
    admin(
        "workspace-declared-2mb",
        "POST",
        "/workspaces",
        b"{}",
        413,
        headers=((b"content-length", str(2 << 20).encode()),),
    ),
    admin("workspace-unknown", "GET", "/workspaces/nope", status=404, param="workspace"),
    admin("workspace-id-crlf", "GET", "/workspaces/a%0D%0Ab", status=404, param="workspace"),
    admin(
        "provider-unknown",
        "POST",
        WS + "/provider-keys",
        j({**PK, "provider": "nope"}),
        param="provider",
    ),
    admin("provider-missing", "POST", WS + "/provider-keys", j({"key": "sk-x"}), param="provider"),
    admin(
        "provider-key-missing",
        "POST",
        WS + "/provider-keys",
        j({"provider": "openai"}),
        param="key",
    ),
    admin(
        "provider-key-crlf",
        "POST",
        WS + "/provider-keys",
        j({"provider": "openai", "key": "sk-a\r\nx-b: c"}),
        param="key",
    ),
    admin(
        "provider-key-nul",
        "POST",
        WS + "/provider-keys",
        j({"provider": "openai", "key": "sk-a\x00b"}),
        param="key",
    ),
    admin(
        "provider-key-unicode",
        "POST",
        WS + "/provider-keys",
        j({"provider": "openai", "key": "sk-\u043a\u043b\u044e\u0447"}),
        param="key",
    ),
    admin(
        "provider-key-number",
        "POST",
        WS + "/provider-keys",
        j({"provider": "openai", "key": 12345}),
        param="key",
    ),
    admin(
        "provider-key-name-crlf",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://127.0.0.1:9", "name": "a\nb"}),
        param="name",
    ),
    admin(
        "base-url-unclosed-ipv6",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://[::1"}),
        param="base_url",
    ),
    admin(
        "base-url-bad-port",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://h:99999"}),
        param="base_url",
    ),
    admin(
        "base-url-aws-metadata",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://169.254.169.254/latest"}),
        param="base_url",
    ),
    admin(
        "base-url-gcp-metadata",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://metadata.google.internal"}),
        param="base_url",
    ),
    admin(
        "base-url-alibaba-metadata",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://100.100.100.200"}),
        param="base_url",
    ),
    admin(
        "base-url-aws-ipv6-metadata",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://[fd00:ec2::254]"}),
        param="base_url",
    ),
    admin(
        "base-url-ipv4-mapped-metadata",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://[::ffff:169.254.169.254]"}),
        param="base_url",
    ),
    admin(
        "base-url-link-local",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://169.254.10.10"}),
        param="base_url",
    ),
    admin(
        "base-url-ipv6-link-local",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://[fe80::1]"}),
        param="base_url",
    ),
    admin(
        "base-url-unspecified",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://0.0.0.0:8000"}),
        param="base_url",
    ),
    admin(
        "base-url-decimal-ip",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://2852039166"}),
        param="base_url",
    ),
    admin(
        "base-url-octal-ip",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://0251.0376.0251.0376"}),
        param="base_url",
    ),
    admin(
        "base-url-hex-ip",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://0xa9fea9fe"}),
        param="base_url",
    ),
    admin(
        "base-url-credentials",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://u:p@api.example.com/v1"}),
        param="base_url",
    ),
    admin(
        "base-url-ftp",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "ftp://files.example.com"}),
        param="base_url",
    ),
    admin(
        "base-url-crlf",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://a.test/\r\nx: y"}),
        param="base_url",
    ),
    admin(
        "base-url-number",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": 8080}),
        param="base_url",
    ),
    admin(
        "base-url-homoglyph-host",
        "POST",
        WS + "/provider-keys",
        j({**PK, "base_url": "http://\uff4detadata.google.internal"}),
        param="base_url",
    ),
    admin(
        "provider-key-workspace-unknown",
        "POST",
        "/workspaces/nope/provider-keys",
        j(PK),
        404,
        param="workspace",
    ),
    admin(
        "provider-key-revoke-unknown",
        "DELETE",
        WS + "/provider-keys/pk_nope",
        status=404,
        param="id",
    ),
    admin(
        "alias-crlf",
        "PUT",
        WS + "/aliases/fa%0D%0Ast",
        j({"target": "openai/gpt-4o"}),
        param="alias",
    ),
    admin(
        "alias-unicode",
        "PUT",
        WS + "/aliases/f%D0%B0st",
        j({"target": "openai/gpt-4o"}),
        param="alias",
    ),
    admin(
        "alias-300-chars",
        "PUT",
        WS + "/aliases/" + "a" * 300,
        j({"target": "openai/gpt-4o"}),
        param="alias",
    ),
    admin("alias-target-missing", "PUT", WS + "/aliases/x", j({}), param="target"),
    admin(
        "alias-target-space",
        "PUT",
        WS + "/aliases/x",
        j({"target": "openai/gpt 4o"}),
        param="target",
    ),
    admin(
        "alias-target-traversal",
        "PUT",
        WS + "/aliases/x",
        j({"target": "gemini/../../v1"}),
        param="target",
    ),
    admin("alias-target-no-slash", "PUT", WS + "/aliases/x", j({"target": "gpt"}), param="target"),
    admin("alias-delete-unknown", "DELETE", WS + "/aliases/nope", status=404, param="alias"),
    admin("api-key-name-crlf", "POST", WS + "/api-keys", j({"name": "a\r\nb"}), param="name"),
    admin("api-key-revoke-unknown", "DELETE", WS + "/api-keys/key_nope", status=404, param="id"),
    admin("method-patch", "PATCH", "/workspaces", j({}), 405, param=None),
    admin("unknown-path", "GET", "/secrets", status=404, param=None),
]

CASES: list[Case] = [
    *_model_id_cases(),
    *CHAT_CASES,
    *MESSAGES_CASES,
    *COUNT_CASES,
    *EMBED_CASES,
    *RESPONSES_CASES,
    *MODELS_CASES,
    *HTTP_CASES,
    *ADMIN_CASES,
]
