"""Whatever a user feeds in, the library answers with its own errors, never a foreign one.

Hypothesis builds catalog overlays, image bytes, OpenAI messages, tags and command lines; each
must either work or raise a ``RouterError`` (the command line: exit with one line, no
traceback).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pricing import Catalog, CatalogError

#: Field values a YAML overlay can hold: scalars of every type, lists, mappings, odd numbers.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["1e999999999", "-1", "0.1", "NaN", "1K", "1M", "image", "openai_tiles"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = st.sampled_from(
    [
        "input", "output", "cached_input", "tiers", "price_unit", "context_window",
        "max_output_tokens", "capabilities", "quality", "image_tokens", "snapshot_of",
        "tokenizer", "defaults", "price_source", "as_of", "limits_source", "nonsense",
    ]
)  # fmt: skip
MODELS = st.sampled_from(["gpt:gpt-4o", "qwen:qwen3-vl-plus", "gemini:gemini-2.5-pro", "gpt:new"])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(MODELS, st.dictionaries(FIELDS, VALUES, max_size=4), max_size=2))
def test_any_overlay_loads_or_raises_a_catalog_error(models: dict[str, Any]) -> None:
    """An overlay with any fields of any type is either a catalog or a CatalogError."""
    try:
        catalog = Catalog.from_documents(
            [("<bundled>", _bundled()), ("overlay.yaml", {"models": models})]
        )
    except CatalogError:
        return  # refused, naming the file, model and field: one of the two allowed answers
    assert len(catalog) >= 56


def _bundled() -> dict[str, Any]:
    from importlib import resources

    from pricing.loader import read_document

    text = resources.files("pricing").joinpath("catalog.yaml").read_text(encoding="utf-8")
    return read_document("<bundled>", text)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"price_unit": []}, "price_unit"),
        ({"input": "1e999999999"}, "input"),
        ({"image_tokens": {"rule": ["openai_tiles"]}}, "image_tokens"),
        ({"capabilities": [["image"]]}, "capabilities"),
        ({"snapshot_of": ["gpt:gpt-4o"]}, "snapshot_of"),
    ],
)
def test_overlay_values_of_the_wrong_type_name_the_field(
    fields: dict[str, Any], message: str
) -> None:
    """The reported cases: a list where a name belongs, a number past any price."""
    with pytest.raises(CatalogError, match=message):
        Catalog.from_documents(
            [("<bundled>", _bundled()), ("overlay.yaml", {"models": {"gpt:gpt-4o": fields}})]
        )


def _bomb_png(width: int, height: int) -> bytes:
    """A 60-byte PNG whose header declares ``width`` x ``height`` pixels (and holds none)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_an_image_error() -> None:
    """A tiny PNG declaring 65535 x 65535 pixels is refused with ImageError, naming the part."""
    from router import ImageError, Request

    data = _bomb_png(65535, 65535)
    assert len(data) < 80
    with pytest.raises(ImageError, match=r"message 1, part 2.*resize it"):
        Request.from_prompt("x", [data])


@pytest.mark.parametrize(
    "key", ["sk-mavi-abc\n", " sk-mavi-abc", "sk-mavi-\u00e9\u4e2d", "sk\x00x", ""]
)
def test_a_key_a_header_cannot_carry_is_refused_before_sending(key: str) -> None:
    """A key with white space, control characters or non-Latin-1 text is an InputError at
    construction: nothing is sent, nothing is retried as a connection error."""
    from router import GatewayClient, InputError

    with pytest.raises(InputError, match="API key"):
        GatewayClient(key, "http://127.0.0.1:9")


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ("user=alice project=atlas", "white space"),
        ("user=a,user=b", "given twice"),
        ("user=", "expected key=value|value"),
        ("us er=a", "tag name"),
        ("user=a\x00", "control"),
    ],
)
def test_bad_budget_scopes_are_refused_alike_everywhere(scope: str, message: str) -> None:
    """Scopes with spaces, repeated names or empty or control-character values are refused by
    parsing (so by every backend alike), and so is the same scope built directly."""
    from router import Budget, InputError

    with pytest.raises(InputError, match=message):
        Budget.parse(scope, "1")
    with pytest.raises(InputError, match="given twice"):
        Budget(frozenset({("user", "a"), ("user", "b")}), Decimal(1))


@pytest.mark.parametrize(
    "tags",
    [{"user": "\udcff"}, {"user": "a\x00b"}, {"user": "x" * 257}, {"bad name": "x"}, {"user": ""}],
)
def test_tags_are_checked_before_sending(tags: dict[str, str]) -> None:
    """A tag the ledger could not store (a lone surrogate, NUL, too long, a bad name) is an
    InputError before the gateway sees anything."""
    from router import InputError, MemoryLedger, Request, Router
    from router.testing import FakeClient

    client = FakeClient()
    router = Router(client=client, ledger=MemoryLedger())
    with pytest.raises(InputError, match="tag"):
        router.call(Request.from_prompt("hi"), model="gpt:gpt-4o", tags=tags)
    assert client.sent == []


def test_usage_beyond_any_call_is_an_input_error() -> None:
    """A token count past MAX_TOKENS is refused (it would price a fortune, or overflow)."""
    from pricing import InputError, Usage
    from pricing.values import MAX_TOKENS

    Usage(MAX_TOKENS, MAX_TOKENS)
    with pytest.raises(InputError, match="from 0 to"):
        Usage(MAX_TOKENS + 1, 0)
