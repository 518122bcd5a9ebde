"""The gateway's two response shapes → one :class:`Completion` value.

GPT answers in the OpenAI shape (``choices[].message.content``, ``usage.prompt_tokens``...);
Qwen and Gemini in the gateway's own (``choices[].text``, ``usage.input_tokens``...). A body
with ``"status": "errored"`` or an ``error`` object is an error even under HTTP 200.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from pricing import Usage

from .errors import BadResponseError, GatewayError


@attrs.frozen
class Completion:
    """What the model answered; ``usage`` is None when the gateway reported none, or reported
    one that cannot be read (negative, not whole, past any call): ``usage_problem`` says which."""

    texts: tuple[str, ...]
    finish_reasons: tuple[str | None, ...]
    usage: Usage | None
    served_model: str | None
    request_id: str | None
    usage_problem: str | None = None

    @property
    def text(self) -> str:
        return self.texts[0] if self.texts else ""


def _count(usage: Mapping[str, Any], *path: str) -> int | None:
    value: Any = usage
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value if type(value) is int and value >= 0 else None


def parse_usage(usage: Any) -> Usage | None:
    """Usage from either shape, or None when it is absent or unreadable (never zero)."""
    if not isinstance(usage, Mapping):
        return None
    if "prompt_tokens" in usage:
        tokens_in, tokens_out = _count(usage, "prompt_tokens"), _count(usage, "completion_tokens")
        cached = _count(usage, "prompt_tokens_details", "cached_tokens") or 0
        reasoning = _count(usage, "completion_tokens_details", "reasoning_tokens") or 0
    else:
        tokens_in, tokens_out = _count(usage, "input_tokens"), _count(usage, "output_tokens")
        cached, reasoning = 0, 0
    if tokens_in is None or tokens_out is None:
        return None
    try:
        return Usage(tokens_in, tokens_out, min(cached, tokens_in), min(reasoning, tokens_out))
    except ValueError:
        return None


def raise_for_error_body(body: Any, model: str | None) -> None:
    """Raise when a 200 body says the call failed."""
    if not isinstance(body, Mapping):
        return
    error = body.get("error")
    if isinstance(error, Mapping) or body.get("status") == "errored":
        detail = error if isinstance(error, Mapping) else {}
        message = str(detail.get("message") or body.get("msg") or "the gateway reported an error")
        code = detail.get("code") if isinstance(detail.get("code"), int) else None
        raise BadResponseError(f"completion errored: {message}", code=code, model=model)


def parse_completion(body: Any, model: str | None = None) -> Completion:
    """One completion from a decoded JSON body of either shape; raises GatewayError if none."""
    raise_for_error_body(body, model)
    choices = body.get("choices") if isinstance(body, Mapping) else None
    if not isinstance(choices, list) or not choices:
        raise BadResponseError("the answer has no choices: not a chat completion", model=model)
    texts, reasons = [], []
    for choice in choices:
        if not isinstance(choice, Mapping):
            raise BadResponseError("a choice is not an object", model=model)
        message = choice.get("message")
        text = message.get("content") if isinstance(message, Mapping) else choice.get("text")
        if text is not None and not isinstance(text, str):
            raise BadResponseError("a choice's text is not a string", model=model)
        texts.append(text or "")
        reason = choice.get("finish_reason")
        reasons.append(reason if isinstance(reason, str) else None)
    served = body.get("model")
    request_id = body.get("id")
    reported = body.get("usage")
    usage = parse_usage(reported)
    problem = None
    if usage is None and reported is not None:
        problem = f"the reported usage cannot be read or be real ({str(reported)[:120]})"
    return Completion(
        tuple(texts),
        tuple(reasons),
        usage,
        served if isinstance(served, str) else None,
        request_id if isinstance(request_id, str) else None,
        problem,
    )


__all__ = ["Completion", "GatewayError", "parse_completion", "parse_usage"]
