"""Typed msgspec schemas of what Gemini sends back (responses, stream chunks, errors, embeddings).

Field names follow the REST API's camelCase (``rename="camel"``). Unknown fields are ignored so a
new upstream field never breaks decoding; fields keyroute must act on are listed here, including
the part kinds it cannot represent (so they are refused loudly instead of vanishing).
"""

from __future__ import annotations

from typing import Any

import msgspec


class _Base(msgspec.Struct, rename="camel"):
    pass


class FunctionCallS(_Base):
    name: str = ""
    args: Any = None
    id: str | None = None


class PartS(_Base):
    text: str | None = None
    thought: bool = False
    thought_signature: str | None = None
    function_call: FunctionCallS | None = None
    # Part kinds keyroute never asks for and cannot represent in a ChatResponse.
    inline_data: Any = None
    file_data: Any = None
    executable_code: Any = None
    code_execution_result: Any = None
    function_response: Any = None

    def foreign_kind(self) -> str | None:
        """The name of a part kind keyroute cannot represent, if this part is one."""
        kinds = {
            "inlineData": self.inline_data,
            "fileData": self.file_data,
            "executableCode": self.executable_code,
            "codeExecutionResult": self.code_execution_result,
            "functionResponse": self.function_response,
        }
        return next((name for name, value in kinds.items() if value is not None), None)


class ContentS(_Base):
    role: str | None = None
    parts: list[PartS] = []


class CandidateS(_Base):
    content: ContentS | None = None
    finish_reason: str | None = None
    finish_message: str | None = None
    index: int = 0


class PromptFeedbackS(_Base):
    block_reason: str | None = None
    block_reason_message: str | None = None


class UsageS(_Base):
    prompt_token_count: int = 0
    cached_content_token_count: int = 0
    candidates_token_count: int = 0
    tool_use_prompt_token_count: int = 0
    thoughts_token_count: int = 0
    total_token_count: int = 0


class ErrorS(_Base):
    code: int = 0
    message: str = ""
    status: str = ""
    details: list[Any] = []


class ResponseS(_Base):
    """A ``GenerateContentResponse``, or one streamed chunk of it (``error`` only in-stream)."""

    candidates: list[CandidateS] | None = None  # None: absent (not a Gemini response at all?)
    prompt_feedback: PromptFeedbackS | None = None
    usage_metadata: UsageS | None = None
    model_version: str | None = None
    response_id: str | None = None
    error: ErrorS | None = None


class EmbeddingS(_Base):
    values: list[float] = []


class EmbeddingsResponseS(_Base):
    embeddings: list[EmbeddingS] = []
    usage_metadata: UsageS | None = None
