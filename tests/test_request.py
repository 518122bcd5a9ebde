"""Building requests from OpenAI messages and from a prompt; invalid input names its place."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from router import ImageError, ImageHeader, ImagePart, InputError, Request, TextPart, read_header

from .images import encoded, png


def test_from_openai_with_string_and_parts() -> None:
    """String content and text/image_url parts become neutral parts, data URLs measured."""
    data_url = "data:image/png;base64," + base64.b64encode(png(100, 50)).decode()
    request = Request.from_openai(
        [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "name": "ann",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": data_url, "detail": "low"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/x.jpg"}},
                ],
            },
            {"role": "assistant", "content": "A box."},
        ],
        max_tokens=50,
        n=2,
    )
    assert [m.role for m in request.messages] == ["system", "user", "assistant"]
    assert request.messages[1].name == "ann"
    local, remote = request.images
    assert (local.width, local.height, local.detail, local.mime_type) == (
        100,
        50,
        "low",
        "image/png",
    )
    assert remote.is_remote
    assert not remote.size_known
    assert request.messages[1].parts[0] == TextPart("What is this?")


def test_from_prompt_reads_paths_and_bytes(tmp_path: Path) -> None:
    """from_prompt takes a path, bytes or a URL per image, after an optional system message."""
    path = tmp_path / "a.png"
    path.write_bytes(png(640, 480))
    request = Request.from_prompt("hi", [path, png(10, 10)], system="sys", max_tokens=5)
    assert [m.role for m in request.messages] == ["system", "user"]
    first, second = request.images
    assert (first.source, first.width) == (str(path), 640)
    assert (second.source, second.width) == ("<bytes>", 10)


@pytest.mark.parametrize(
    ("messages", "where"),
    [
        ([{"role": "robot", "content": "x"}], "message 1: role"),
        ([{"role": "user", "content": "a"}, {"role": "user", "content": 5}], "message 2: content"),
        (
            [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "audio"}]}],
            "message 1, part 2: unknown part type 'audio'",
        ),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
            "message 1, part 1: image_url needs a url",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,!!"}}
                    ],
                }
            ],
            "message 1, part 1: the data URL",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "a.png", "detail": "max"}}
                    ],
                }
            ],
            "message 1, part 1: detail",
        ),
        ([], "at least one message"),
    ],
)
def test_invalid_messages_name_message_and_part(
    messages: list[dict[str, object]], where: str
) -> None:
    """Each invalid request raises InputError whose message names the message and part."""
    with pytest.raises(InputError) as info:
        Request.from_openai(messages)
    assert where in str(info.value)


def test_not_an_image_names_the_part(tmp_path: Path) -> None:
    """A file that is not an image, or a corrupt one, is an ImageError naming the part."""
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    with pytest.raises(
        ImageError, match=r"message 1, part 2 \(.*notes.txt\): not a readable image"
    ):
        Request.from_prompt("look", [text_file])
    truncated = png()[:20]
    with pytest.raises(ImageError, match="part 1"):
        Request.from_prompt("", [truncated])
    with pytest.raises(InputError, match="cannot read image"):
        Request.from_prompt("x", [tmp_path / "absent.png"])


def test_unsupported_format_is_refused() -> None:
    """An image format the gateway does not take (here ICO) is refused with the supported list."""
    with pytest.raises(ImageError, match="ICO images are not supported"):
        read_header(encoded(16, 16, "ICO"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n": 0}, "n must be"),
        ({"max_tokens": -1}, "max_tokens must be"),
        ({"max_tokens": 0}, "max_tokens"),
    ],
)
def test_invalid_options(options: dict[str, Any], message: str) -> None:
    """n < 1 and max_tokens < 1 are refused with what is expected."""
    with pytest.raises(InputError, match=message):
        Request.from_prompt("x", **options)


def test_empty_prompt_without_images_is_refused() -> None:
    """A prompt-built request needs a prompt or an image."""
    with pytest.raises(InputError, match="empty"):
        Request.from_prompt("")


def test_headers_are_read_from_the_bytes_given() -> None:
    """Each header is read from the bytes themselves (no cache keyed by anything less than
    the bytes): equal bytes measure equal, another image of the same length measures its own."""
    data, other = png(33, 44), png(44, 33)
    width = max(len(data), len(other))
    data, other = data.ljust(width, b"\0"), other.ljust(width, b"\0")  # after IEND: ignored
    assert read_header(data) == read_header(bytes(data)) == ImageHeader(33, 44, "image/png")
    assert read_header(other) == ImageHeader(44, 33, "image/png")
    assert ImagePart("x").with_data(data).width == 33
