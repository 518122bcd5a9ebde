"""Image tokens per model: every worked example of docs/tokens.md, table-driven."""

from __future__ import annotations

import pytest

from pricing import Catalog
from router import Estimator, Request
from router.estimate.images import ImageQuery, image_tokens

from .images import png

# (model, width, height, detail, media_resolution, expected, (low, high) when uncertain)
CASES = [
    ("gpt:gpt-4o", 1024, 1024, "auto", None, 765, None),
    ("gpt:gpt-4o", 4000, 3000, "high", None, 765, None),
    ("gpt:gpt-4o", 2048, 4096, "auto", None, 1105, None),
    ("gpt:gpt-4o", 4000, 3000, "low", None, 85, None),
    ("gpt:gpt-4.1", 1024, 1024, "auto", None, 765, None),
    ("gpt:gpt-4o-mini", 1024, 1024, "auto", None, 2833 + 4 * 5667, None),
    ("gpt:o1", 1024, 1024, "auto", None, 75 + 4 * 150, None),
    ("gpt:gpt-5", 1024, 1024, "auto", None, 70 + 4 * 140, None),
    ("gpt:gpt-5", 300, 200, "auto", None, 70 + 140, None),
    ("gpt:gpt-4.1-mini", 1024, 1024, "auto", None, 1659, None),
    ("gpt:gpt-4.1-nano", 1024, 1024, "auto", None, 2520, None),
    ("gpt:o4-mini", 1024, 1024, "auto", None, 1762, None),
    ("gpt:gpt-4.1-mini", 4000, 3000, "auto", None, 2353, (2353, 4977)),  # 1408x1056, 1452 patches
    ("gpt:o4-mini", 4000, 3000, "auto", None, 2498, None),
    ("gpt:gpt-5-mini", 1024, 1024, "auto", None, 1229, (1229, 1659)),  # x1.2, older docs x1.62
    ("gpt:gpt-5-nano", 1024, 1024, "auto", None, 1536, (1536, 2520)),  # x1.5, older docs x2.46
    ("gpt:gpt-5.2", 4000, 3000, "auto", None, 1743, (1743, 3687)),  # budget 1536 or 6144
    ("gemini:gemini-2.5-pro", 1024, 1024, "auto", None, 1032, (258, 1032)),
    ("gemini:gemini-2.5-flash", 4000, 3000, "auto", None, 6192, (258, 6192)),
    ("gemini:gemini-2.0-flash", 384, 300, "auto", None, 258, None),
    ("gemini:gemini-3-pro-preview", 4000, 3000, "auto", None, 1120, None),
    ("gemini:gemini-3-flash-preview", 64, 64, "auto", "high", 1120, None),
    ("gemini:gemini-3-pro-preview", 4000, 3000, "auto", "medium", 560, None),
    ("gemini:gemini-3-pro-preview", 4000, 3000, "auto", "low", 280, None),
    ("qwen:qwen-vl-max", 1024, 1024, "auto", None, 1026, None),
    ("qwen:qwen-vl-max", 4000, 3000, "auto", None, 1232, (1232, 2496)),  # cap 1280 or 2560
    ("qwen:qwen3-vl-plus", 4000, 3000, "auto", None, 2496, (1232, 2496)),
    # f=28: 37x37 patches exceed the 1280·28² cap, scaled to 35x35 (+2); the 2560·32² cap keeps 37x37
    ("qwen:qwen-vl-plus-2025-01-25", 1024, 1024, "auto", None, 1227, (1227, 1371)),
    ("qwen:qwen3-vl-flash", 20, 20, "auto", None, 6, None),  # raised to min_pixels: 4 patches
]


@pytest.mark.parametrize(
    ("model", "width", "height", "detail", "media", "expected", "bounds"),
    CASES,
    ids=[f"{c[0]}-{c[1]}x{c[2]}-{c[3]}-{c[4]}" for c in CASES],
)
def test_worked_examples(
    catalog: Catalog,
    model: str,
    width: int,
    height: int,
    detail: str,
    media: str | None,
    expected: int,
    bounds: tuple[int, int] | None,
) -> None:
    """Each rule reproduces the example of docs/tokens.md as expected; uncertain rules give the range."""
    tokens = image_tokens(catalog.get(model).image_rule, ImageQuery(width, height, detail, media))
    assert tokens.expected == expected
    low, high = bounds if bounds is not None else (expected, expected)
    assert (tokens.low, tokens.high) == (low, high)


@pytest.mark.parametrize(
    ("model", "low", "high"),
    [
        ("gpt:gpt-4o", 255, 1445),
        ("gpt:gpt-4.1-mini", 2, 9954),  # ceil(6144 x 1.62)
        ("gemini:gemini-2.5-pro", 258, 4128),
        ("gemini:gemini-3-pro-preview", 1120, 1120),
        ("qwen:qwen3-vl-plus", 6, 2562),
        ("qwen:qwen-vl-max-2025-04-08", 6, 3345),  # 2,621,440 px / 28² = 3343 patches
    ],
)
def test_unknown_size_spans_rule_minimum_to_maximum(
    catalog: Catalog, model: str, low: int, high: int
) -> None:
    """An image of unknown size ranges from the rule's minimum to its per-image maximum."""
    tokens = image_tokens(catalog.get(model).image_rule, ImageQuery(None, None))
    assert (tokens.low, tokens.expected, tokens.high) == (low, high, high)


def test_real_image_bytes_are_measured_from_the_header(catalog: Catalog) -> None:
    """A real PNG's header gives its size; the estimate uses each model's rule on it."""
    request = Request.from_prompt("", [png(2048, 4096)])
    part = request.images[0]
    assert (part.width, part.height, part.mime_type) == (2048, 4096, "image/png")
    estimator = Estimator(catalog)
    assert estimator.estimate(request, "gpt:gpt-4o").images[0].tokens.expected == 1105
    assert (
        estimator.estimate(request, "gemini:gemini-2.5-flash").images[0].tokens.expected
        == 258 * 3 * 6
    )
