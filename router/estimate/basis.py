"""What an estimate was made of, kept on the call's ledger row so the bill can be attributed.

Counts and sizes only, never content: the text's tokens (and whether they were counted or
estimated), the chat template's tokens and the messages and names they were counted for, each
image's size and expected tokens, and the output prior. Stored as compact JSON; a row without
one (recorded before it existed, or an orphan) reads as None.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from pricing import InputError

#: An image: width, height (None when unknown) and its tokens at the rule's low, expected and
#: high parameters (calibration picks the one the bills follow).
Image = tuple[int | None, int | None, int, int, int]


@attrs.frozen
class Basis:
    """The parts of an estimate's expected input and output tokens."""

    text_tokens: int
    text_exact: bool
    overhead: int
    messages: int
    names: int
    images: tuple[Image, ...]
    output_prior: int  # expected output tokens per choice
    choices: int

    @property
    def expected_input(self) -> int:
        return self.text_tokens + self.overhead + sum(image[3] for image in self.images)

    def to_json(self) -> str:
        return json.dumps(
            {
                "text": self.text_tokens,
                "exact": self.text_exact,
                "overhead": self.overhead,
                "messages": self.messages,
                "names": self.names,
                "images": [list(image) for image in self.images],
                "output_prior": self.output_prior,
                "n": self.choices,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Basis | None:
        """The basis stored as ``text``; None for an empty one. Raises InputError if malformed."""
        if not text:
            return None
        try:
            doc: dict[str, Any] = json.loads(text)
            return cls(
                int(doc["text"]),
                bool(doc["exact"]),
                int(doc["overhead"]),
                int(doc["messages"]),
                int(doc["names"]),
                tuple(_image(image) for image in doc["images"]),
                int(doc["output_prior"]),
                int(doc["n"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"an estimate's basis is malformed ({exc}): {text[:80]!r}") from None


def _image(value: list[Any]) -> Image:
    width, height, low, expected, high = value
    return (
        None if width is None else int(width),
        None if height is None else int(height),
        int(low),
        int(expected),
        int(high),
    )
