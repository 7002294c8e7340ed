"""What a client's model id may look like, checked before anything is sent upstream.

A model id travels into upstream URLs (Gemini puts it in the path), request bodies, response
bodies and the ``x-keyroute-model`` response header, so it is checked once, first, on every
endpoint: a bad id is a 400 naming ``model`` and no provider is ever called.

Invariants:

- An id is 1 to ``MAX_MODEL_ID_LENGTH`` characters drawn from ASCII letters, digits and
  ``. _ - : / @ + ~``: enough for every real id (``llama3.1:8b``,
  ``accounts/fireworks/models/llama-v3p1-70b-instruct``, ``claude-sonnet-4-5@20250929``,
  ``ft:gpt-4o-mini:org::abc``, ``hf.co/org/model:Q4_K_M``) and nothing a URL, a header or a
  terminal treats specially (no ``%``, ``?``, ``#``, spaces, quotes, backslashes, control or
  non-ASCII characters, so no homoglyphs either).
- No ``/``-separated segment is ``.`` or ``..``: an id can never walk up an upstream URL path.
- The error message never echoes the id; it names the length or the first bad character's
  position and code point.
"""

from __future__ import annotations

import re

from keyroute.core.errors import InvalidRequest

MAX_MODEL_ID_LENGTH = 256
ALLOWED_PUNCTUATION = "._-:/@+~"
_VALID = re.compile(r"[A-Za-z0-9._:/@+~-]+")
_DOT_SEGMENT = re.compile(r"(?:^|/)\.{1,2}(?:/|$)")
_RULE = f"model ids are 1-{MAX_MODEL_ID_LENGTH} characters: ASCII letters, digits and " + " ".join(
    ALLOWED_PUNCTUATION
)


def check_model_id(model: str, *, param: str = "model") -> str:
    """``model`` if it is a well-formed model id; ``InvalidRequest`` naming ``param`` if not."""
    if 0 < len(model) <= MAX_MODEL_ID_LENGTH and _VALID.fullmatch(model):
        if _DOT_SEGMENT.search(model) is None:
            return model
        raise InvalidRequest(
            f"Invalid model id: a '/'-separated part may not be '.' or '..' ({_RULE}).",
            param=param,
        )
    if not model:
        raise InvalidRequest(f"Invalid model id: it is empty ({_RULE}).", param=param)
    if len(model) > MAX_MODEL_ID_LENGTH:
        raise InvalidRequest(
            f"Invalid model id: {len(model)} characters is too long ({_RULE}).", param=param
        )
    position, char = next((i, c) for i, c in enumerate(model) if not _VALID.fullmatch(c))
    raise InvalidRequest(
        f"Invalid model id: character U+{ord(char):04X} at position {position} is not allowed "
        f"({_RULE}).",
        param=param,
    )
