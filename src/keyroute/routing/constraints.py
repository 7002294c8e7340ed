"""Hard constraints: which candidates of a routing policy can serve a request at all.

They are applied before any scoring, from the catalogue's facts about each model: a request
with tools needs tool calling, one with images needs image input, a JSON-schema answer needs
structured output, and the prompt (estimated) plus the requested output must fit the context
window. A model the catalogue does not know (a self-hosted one, an alias to an
OpenAI-compatible host) is given the benefit of the doubt: only the catalogue can rule a model
out. The other constraints (a provider key, an open circuit, a budget downgrade) are the
router's, in ``selection``.

Invariant: pure functions of the request and the catalogue entry; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from keyroute.catalogue.entries import ModelEntry
from keyroute.core.chat import ChatRequest, ImagePart
from keyroute.core.tokens import estimate_tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class Needs:
    """What a request needs of a model."""

    tools: bool = False
    vision: bool = False
    json_schema: bool = False
    json_mode: bool = False
    tokens: int = 0  # the prompt's estimated tokens plus the requested output
    prompt: int = 0  # the prompt's estimated tokens

    @classmethod
    def of(cls, req: ChatRequest) -> Needs:
        fmt = req.response_format.type if req.response_format is not None else "text"
        prompt = estimate_tokens(req)
        return cls(
            tools=bool(req.tools),
            vision=any(isinstance(part, ImagePart) for m in req.messages for part in m.content),
            json_schema=fmt == "json_schema",
            json_mode=fmt == "json_object",
            tokens=prompt + (req.max_tokens or 0),
            prompt=prompt,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Unmet:
    """Why a model cannot serve a request: a short code and the request field it is about."""

    code: str  # tools, vision, json_schema, json_mode, context_window
    param: str
    detail: str


def unmet(needs: Needs, entry: ModelEntry | None) -> Unmet | None:
    """The first need ``entry`` cannot meet, or ``None`` (``None`` too for an unknown model)."""
    if entry is None:
        return None
    caps = entry.capabilities
    if needs.tools and not caps.tools:
        return Unmet(code="tools", param="tools", detail="no tool calling")
    if needs.vision and not caps.vision:
        return Unmet(code="vision", param="messages", detail="no image input")
    if needs.json_schema and not caps.json_schema:
        return Unmet(code="json_schema", param="response_format", detail="no JSON schema output")
    if needs.json_mode and not (caps.json_mode or caps.json_schema):
        return Unmet(code="json_mode", param="response_format", detail="no JSON mode")
    if needs.tokens > entry.context_window:
        return Unmet(
            code="context_window",
            param="messages",
            detail=f"{needs.tokens} tokens (prompt and requested output) over its "
            f"{entry.context_window}-token context window",
        )
    return None
