"""Wire formats per provider and both response shapes, table-driven."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from pricing import Catalog, Usage
from router import BadResponseError, ImagePart, Message, Request, TextPart
from router.gateway.response import parse_completion
from router.gateway.wire import request_body

from .gateway_server import validate

PNG_DATA = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGAAAAAEAAH2FzhVAAAAAElFTkSuQmCC"
)
REQUEST = Request(
    (
        Message("system", (TextPart("Be brief."),)),
        Message(
            "user",
            (
                TextPart("What is it?"),
                ImagePart("https://x.test/a.jpg", detail="low"),
                ImagePart("<bytes>").with_data(PNG_DATA),
            ),
        ),
    ),
    json_output=True,
    thinking=True,
    n=2,
)

# model, path into the body, expected value
CASES: list[tuple[str, tuple[Any, ...], Any]] = [
    ("qwen:qwen3-vl-plus", ("messages", 0, "content"), "Be brief."),
    ("qwen:qwen3-vl-plus", ("messages", 1, "content", 0), {"text": "What is it?"}),
    ("qwen:qwen3-vl-plus", ("messages", 1, "content", 1), {"image": "https://x.test/a.jpg"}),
    ("qwen:qwen3-vl-plus", ("extra_body", "response_format", "type"), "json_schema"),
    ("qwen:qwen3-vl-plus", ("extra_body", "enable_thinking"), True),
    ("qwen:qwen3-vl-plus", ("max_tokens",), 1024),
    ("qwen:qwen3-vl-plus", ("temperature",), 0.7),
    ("qwen:qwen3-vl-plus", ("top_p",), 0.9),
    ("gpt:gpt-4o", ("messages", 1, "content", 0), {"type": "text", "text": "What is it?"}),
    (
        "gpt:gpt-4o",
        ("messages", 1, "content", 1),
        {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg", "detail": "low"}},
    ),
    ("gpt:gpt-4o", ("response_format",), {"type": "json_object"}),
    ("gpt:gpt-4o", ("max_tokens",), 1000),
    ("gpt:gpt-4o", ("temperature",), 0.0),
    ("gpt:gpt-4o", ("n",), 2),
    (
        "gemini:gemini-2.5-flash",
        ("messages", 1, "content", 1),
        {"type": "input_file", "file_uri": "https://x.test/a.jpg", "mime_type": "image/jpeg"},
    ),
    ("gemini:gemini-2.5-flash", ("messages", 1, "content", 2, "mime_type"), "image/png"),
    (
        "gemini:gemini-2.5-flash",
        ("messages", 1, "content", 2, "file_uri"),
        base64.b64encode(PNG_DATA).decode(),
    ),
    ("gemini:gemini-2.5-flash", ("extra_body", "response_mime_type"), "application/json"),
    ("gemini:gemini-2.5-flash", ("extra_body", "thinking_config", "thinking_budget"), -1),
    ("gemini:gemini-2.5-flash", ("model",), "gemini:gemini-2.5-flash"),
]


@pytest.mark.parametrize(("model", "path", "value"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_request_body_per_provider(model: str, path: tuple[Any, ...], value: Any) -> None:
    """Each provider gets its own part shapes, option places and defaults."""
    body: Any = request_body(REQUEST, Catalog.bundled().get(model))
    for key in path:
        body = body[key]
    assert body == value


@pytest.mark.parametrize("model", ["qwen:qwen3-vl-plus", "gpt:gpt-4o", "gemini:gemini-2.5-pro"])
def test_bodies_pass_the_fake_gateways_checks(model: str) -> None:
    """The loopback server's validation (from the seeds) accepts every dialect we send."""
    assert validate(request_body(REQUEST, Catalog.bundled().get(model))) is None


def test_gpt_sends_no_thinking_switch_and_local_images_as_data_urls() -> None:
    """GPT reasoning is implicit; a local image goes as a base64 data URL."""
    body = request_body(REQUEST, Catalog.bundled().get("gpt:o3"))
    assert "extra_body" not in body
    assert body["messages"][1]["content"][2]["image_url"]["url"].startswith(
        "data:image/png;base64,"
    )


OPENAI = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
    ],
    "usage": {
        "prompt_tokens": 100,
        "completion_tokens": 40,
        "total_tokens": 140,
        "prompt_tokens_details": {"cached_tokens": 30},
        "completion_tokens_details": {"reasoning_tokens": 10},
    },
}
GATEWAY = {
    "id": "g-1",
    "object": "completion",
    "model": "qwen3-vl-plus",
    "status": "completed",
    "choices": [{"text": "a", "index": 0}, {"text": "b", "index": 1}],
    "usage": {"input_tokens": 12, "output_tokens": 3, "total_tokens": 15},
    "meta": {"provider": "qwen", "provider_model": "qwen3-vl-plus"},
}


def test_both_response_shapes_parse_to_one_value() -> None:
    """OpenAI and gateway shapes give texts, finish reasons, usage, served model and id."""
    gpt = parse_completion(OPENAI)
    assert (gpt.text, gpt.finish_reasons, gpt.served_model) == (
        "hi",
        ("stop",),
        "gpt-4o-2024-08-06",
    )
    assert gpt.usage == Usage(100, 40, 30, 10)
    qwen = parse_completion(GATEWAY)
    assert qwen.texts == ("a", "b")
    assert qwen.usage == Usage(12, 3)
    assert qwen.request_id == "g-1"


@pytest.mark.parametrize(
    "usage", [None, {}, {"input_tokens": -1, "output_tokens": 3}, {"prompt_tokens": "many"}]
)
def test_missing_or_bad_usage_is_none_never_zero(usage: Any) -> None:
    """Absent or unreadable usage parses as None (billed at the worst case), not as zero."""
    body = dict(GATEWAY)
    if usage is None:
        body.pop("usage")
    else:
        body["usage"] = usage
    assert parse_completion(body).usage is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (dict(GATEWAY, status="errored"), "completion errored"),
        (dict(OPENAI, error={"message": "overloaded", "code": 503}), "overloaded"),
        ({"result": "ok"}, "no choices"),
        ([1, 2], "no choices"),
        (dict(GATEWAY, choices=[{"text": 5}]), "not a string"),
    ],
)
def test_error_bodies_and_wrong_shapes_raise(body: Any, message: str) -> None:
    """HTTP 200 with an error, or a body that is not a completion, is a BadResponseError."""
    with pytest.raises(BadResponseError, match=message):
        parse_completion(body, "qwen:qwen3-vl-plus")
