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

from .conftest import RunCli

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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


#: Words the command line is fuzzed with: every command and flag, and values of every kind.
COMMANDS = [
    ["models"], ["price"], ["estimate"], ["route"], ["call"], ["budget", "set"],
    ["budget", "list"], ["report"], ["budget"], ["calibrate"], [],
]  # fmt: skip
FLAGS = [
    "--json", "--provider", "--input-tokens", "--output-tokens", "--cached-tokens",
    "--reasoning-tokens", "--model", "--prompt", "--prompt-file", "--messages", "--system",
    "--image", "--detail", "--media-resolution", "--max-tokens", "--n", "--json-output",
    "--thinking", "--fetch-images", "--exact-text", "--estimate-text", "--require", "--exclude", "--snapshots",
    "--max-cost", "--ceiling", "--objective", "--min-quality", "--user", "--project", "--tag",
    "--ledger", "--base-url", "--stream", "--fit-budget", "--retries", "--timeout", "--limit",
    "--period", "--soft", "--tz", "--by", "--since", "--until", "--format", "--out", "--catalog",
    "--apply", "--reset", "--min-calls",
]  # fmt: skip
WORDS = [
    "", "-", "0", "-1", "1", "2", "1e30", "10" * 25, "nan", "inf", "0.5", "-0.0", "\x00", "\udcff",
    "\u00e9t\u00e9", "gpt:gpt-4o", "qwen:qwen3-vl-plus", "gemini:gemini-2.5-pro", "nope:model",
    "user=a", "user=a project=b", "x=y,x=z", "global", "day,model", "tag:x", "tag:", "html",
    "csv", "json", "2026-13-45", "2026-01-01", "Europe/Paris", "Mars/Olympus", "vision,json",
    "balanced", "memory://", "sqlite:///{tmp}/fuzz.db", "postgresql://nobody@127.0.0.1:1/x",
    "redis://x", "examples/chart.png", "README.md", "/dev/zero", "{tmp}", "{tmp}/out.txt",
    "http://127.0.0.1:9/x.png", "data:image/png;base64,AAAA", "k=v", "=v", "low", "high",
]  # fmt: skip


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    command=st.sampled_from(COMMANDS),
    words=st.lists(st.one_of(st.sampled_from(FLAGS), st.sampled_from(WORDS)), max_size=8),
)
def test_the_command_line_answers_any_arguments_in_one_line(
    command: list[str], words: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Any command with any flags and values exits with a documented status and, on error,
    exactly one line on stderr: never a traceback, never a foreign exception."""
    import contextlib
    import io
    import os

    from router.cli import main

    tmp = tmp_path_factory.getbasetemp() / "cli-fuzz"
    tmp.mkdir(exist_ok=True)
    argv = command + [w.replace("{tmp}", str(tmp)) for w in words]
    saved = dict(os.environ)
    os.environ.update({"XDG_DATA_HOME": str(tmp / "data")})
    for name in ("MEMORIES_API_KEY", "COSTROUTER_LEDGER", "COSTROUTER_CATALOG"):
        os.environ.pop(name, None)
    err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(argv)
            except SystemExit as exit_:  # --help and --version end through argparse
                code = int(exit_.code or 0)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert code in (0, 1, 2, 3, 4, 5), (argv, code)
    if code != 0:
        lines = err.getvalue().strip().splitlines()
        assert len(lines) == 1, (argv, lines)
        assert lines[0].startswith("costrouter: error: "), (argv, lines)
    assert "Traceback" not in err.getvalue()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--retries", "0"], "attempts must be"),
        (["--timeout", "0"], "read timeout must be"),
        (["--timeout", "nan"], "read timeout must be"),
        (["--timeout", "-3"], "read timeout must be"),
    ],
)
def test_call_flags_out_of_range_are_one_line_before_anything_is_sent(
    flags: list[str], message: str, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--retries 0 or a timeout that is not a positive number exit 2 with one line, before
    any reservation or request (they once ended in a traceback with a hold left)."""
    monkeypatch.setenv("MEMORIES_API_KEY", "sk-test")
    result = run_cli("call", "--prompt", "hi", "--base-url", "http://127.0.0.1:9", *flags)
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert message in result.err
    assert run_cli("report", "--json").json()["total"]["calls"] == 0


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=200)
    | st.builds(
        lambda data: _bomb_png(*data), st.tuples(st.integers(0, 2**31), st.integers(0, 2**31))
    )
)
def test_any_bytes_are_an_image_or_an_image_error(data: bytes) -> None:
    """Bytes of any kind are measured or refused with ImageError, never a Pillow exception."""
    from router import ImageError, read_header

    try:
        header = read_header(data)
    except ImageError:
        return
    assert header.width >= 1
    assert header.height >= 1


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["role", "content", "type", "text", "image_url", "url", "name", "detail"]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(JSONISH, max_size=3) | JSONISH)
def test_any_openai_messages_are_a_request_or_an_input_error(messages: Any) -> None:
    """Messages of any shape build a Request or raise InputError; paths are never read."""
    from router import InputError, Request

    try:
        request = Request.from_openai(messages)
    except InputError:
        return
    assert request.messages
    assert all(p.data is None or p.source.startswith(("data:", "<")) for p in request.images)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=70), st.text(max_size=300), max_size=3))
def test_any_tags_are_accepted_or_refused_before_sending(tags: dict[str, str]) -> None:
    """Tags of any text are either accepted (and then stored) or an InputError before the
    gateway sees the call."""
    from router import InputError, MemoryLedger, Request, Router
    from router.testing import FakeClient

    client = FakeClient()
    ledger = MemoryLedger()
    try:
        Router(client=client, ledger=ledger).call(Request.from_prompt("hi"), tags=tags)
    except InputError:
        assert client.sent == []
        return
    (row,) = ledger.rows()
    assert all(row.tag_map[k] == v for k, v in tags.items() if k not in ("model", "provider"))
