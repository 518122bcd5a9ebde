"""The gateway's three request dialects (docs/gateway.md), as data plus one small function each.

:func:`request_body` turns a neutral :class:`Request` into the JSON body for one model: parts in
that provider's shape, JSON output and thinking options in that provider's place, and the
provider's defaults (from the catalog) where the caller gave none.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from pricing import ModelSpec

from ..request import ImagePart, Message, Request, TextPart

Json = dict[str, Any]

#: The message roles each provider's gateway page accepts (Qwen's lists system and user only).
ROLES: Mapping[str, frozenset[str]] = {
    "qwen": frozenset({"system", "user"}),
    "gpt": frozenset({"system", "user", "assistant"}),
    "gemini": frozenset({"system", "user", "assistant"}),
}


def _image_source(part: ImagePart) -> tuple[str, str]:
    """(URL or base64 data URL, MIME type) for an image part."""
    if part.data is None:
        return part.source, part.mime_type or "image/jpeg"
    mime = part.mime_type or "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(part.data).decode('ascii')}", mime


def _qwen_image(part: ImagePart) -> Json:
    return {"image": _image_source(part)[0]}


def _gpt_image(part: ImagePart) -> Json:
    image: Json = {"url": _image_source(part)[0]}
    if part.detail != "auto":
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def _gemini_image(part: ImagePart) -> Json:
    source, mime = _image_source(part)
    if source.startswith("data:"):
        source = source.partition(",")[2]  # Gemini takes the bare base64 with its MIME type
    return {"type": "input_file", "file_uri": source, "mime_type": mime}


def _qwen_json(body: Json, schema: Mapping[str, Any] | None) -> None:
    body.setdefault("extra_body", {})["response_format"] = {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": dict(schema or {"type": "object"})},
    }


def _gpt_json(body: Json, schema: Mapping[str, Any] | None) -> None:
    body["response_format"] = {"type": "json_object"}


def _gemini_json(body: Json, schema: Mapping[str, Any] | None) -> None:
    extra = body.setdefault("extra_body", {})
    extra["response_mime_type"] = "application/json"
    if schema is not None:
        extra["responseSchema"] = dict(schema)


def _qwen_thinking(body: Json, budget: int | None) -> None:
    extra = body.setdefault("extra_body", {})
    extra["enable_thinking"] = True
    if budget is not None:
        extra["thinking_budget"] = budget


def _gpt_thinking(body: Json, budget: int | None) -> None:
    """GPT reasoning models think on their own; there is no switch to send."""


def _gemini_thinking(body: Json, budget: int | None) -> None:
    config = {"thinking_budget": budget if budget is not None else -1}  # -1: dynamic
    body.setdefault("extra_body", {})["thinking_config"] = config


@attrs.frozen
class Dialect:
    """How one provider spells a request."""

    text: Callable[[TextPart], Json]
    image: Callable[[ImagePart], Json]
    json_output: Callable[[Json, Mapping[str, Any] | None], None]
    thinking: Callable[[Json, int | None], None]


DIALECTS: Mapping[str, Dialect] = {
    "qwen": Dialect(lambda p: {"text": p.text}, _qwen_image, _qwen_json, _qwen_thinking),
    "gpt": Dialect(
        lambda p: {"type": "text", "text": p.text}, _gpt_image, _gpt_json, _gpt_thinking
    ),
    "gemini": Dialect(
        lambda p: {"type": "text", "text": p.text}, _gemini_image, _gemini_json, _gemini_thinking
    ),
}


def _message(message: Message, dialect: Dialect) -> Json:
    if len(message.parts) == 1 and isinstance(message.parts[0], TextPart):
        content: Any = message.parts[0].text
    else:
        content = [
            dialect.image(p) if isinstance(p, ImagePart) else dialect.text(p) for p in message.parts
        ]
    out: Json = {"role": message.role, "content": content}
    if message.name:
        out["name"] = message.name
    return out


def request_body(request: Request, model: ModelSpec, *, stream: bool = False) -> Json:
    """The JSON body that asks ``model`` for ``request`` through the gateway."""
    dialect = DIALECTS[model.provider]
    defaults = model.defaults
    body: Json = {
        "model": model.id,
        "messages": [_message(m, dialect) for m in request.messages],
        "max_tokens": request.max_tokens or defaults.max_tokens,
        "temperature": request.temperature
        if request.temperature is not None
        else float(defaults.temperature),
        "top_p": request.top_p if request.top_p is not None else float(defaults.top_p),
        "n": request.n,
        "stream": stream,
    }
    if request.stop:
        body["stop"] = list(request.stop)
    if request.json_output:
        dialect.json_output(body, request.json_schema)
    if request.thinking:
        dialect.thinking(body, request.thinking_budget)
    return body
