"""Image → tokens per model, following each provider's published rule (docs/tokens.md).

One small function per rule, looked up in :data:`RULES` by the catalog's rule name; each takes
the rule's parameters at one bound (low, expected or high) and returns a token count. A rule
parameter the documents disagree on is a catalog :class:`~pricing.Range`, so the same function
run at each bound gives the range. An image of unknown size spans the rule's minimum to its
per-image maximum, with the maximum as the expected value: unknown is priced as the worst case.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping

import attrs

from pricing import ImageRule, Range


@attrs.frozen(cache_hash=True)
class ImageQuery:
    """What a rule needs to know about one image."""

    width: int | None
    height: int | None
    detail: str = "auto"
    media_resolution: str | None = None


Params = Mapping[str, float]
#: (params, width, height, query) → tokens; (params, query) → (min, max) when size is unknown.
SizeRule = Callable[[Params, int, int, ImageQuery], int]
BoundsRule = Callable[[Params, ImageQuery], tuple[int, int]]


def _fit(width: int, height: int, limit: float) -> tuple[int, int]:
    """Scale down (keeping aspect, rounding) so both sides fit ``limit``; never scale up."""
    if width <= limit and height <= limit:
        return width, height
    scale = limit / max(width, height)
    return round(width * scale), round(height * scale)


def openai_tiles(p: Params, width: int, height: int, query: ImageQuery) -> int:
    if query.detail == "low":
        return int(p["base"])
    width, height = _fit(width, height, 2048)
    if min(width, height) > 768:
        scale = 768 / min(width, height)
        width, height = (
            (768, math.floor(height * scale))
            if width <= height
            else (math.floor(width * scale), 768)
        )
    return int(p["base"] + p["tile"] * math.ceil(width / 512) * math.ceil(height / 512))


def openai_tiles_bounds(p: Params, query: ImageQuery) -> tuple[int, int]:
    if query.detail == "low":
        return int(p["base"]), int(p["base"])
    # At most 768 px on the short side and 2048 on the long one: 2 x 4 tiles.
    return int(p["base"] + p["tile"]), int(p["base"] + 8 * p["tile"])


def openai_patches(p: Params, width: int, height: int, query: ImageQuery) -> int:
    side, budget = p["patch_px"], p["budget"]
    width, height = _fit(width, height, p["max_side"])
    patches = math.ceil(width / side) * math.ceil(height / side)
    if patches > budget:
        ratio = math.sqrt(side * side * budget / (width * height))
        ratio *= min(
            math.floor(width * ratio / side) / (width * ratio / side),
            math.floor(height * ratio / side) / (height * ratio / side),
        )
        width, height = math.floor(width * ratio), math.floor(height * ratio)
        patches = min(int(budget), math.ceil(width / side) * math.ceil(height / side))
    return math.ceil(patches * p["multiplier"])


def openai_patches_bounds(p: Params, query: ImageQuery) -> tuple[int, int]:
    return math.ceil(p["multiplier"]), math.ceil(p["budget"] * p["multiplier"])


def gemini_tiles(p: Params, width: int, height: int, query: ImageQuery) -> int:
    if width <= p["small_px"] and height <= p["small_px"]:
        return int(p["tile_tokens"])
    return int(
        p["tile_tokens"] * math.ceil(width / p["tile_px"]) * math.ceil(height / p["tile_px"])
    )


#: Gemini 2.x takes images up to 3072 px a side before it scales them: 4 x 4 tiles at most.
GEMINI_MAX_SIDE_PX = 3072


def gemini_tiles_bounds(p: Params, query: ImageQuery) -> tuple[int, int]:
    tiles = math.ceil(GEMINI_MAX_SIDE_PX / p["tile_px"]) ** 2
    return int(p["tile_tokens"]), int(p["tile_tokens"] * tiles)


def gemini_media(p: Params, width: int, height: int, query: ImageQuery) -> int:
    return int(p[f"media_{query.media_resolution or 'default'}"])


def gemini_media_bounds(p: Params, query: ImageQuery) -> tuple[int, int]:
    tokens = gemini_media(p, 0, 0, query)
    return tokens, tokens


def qwen_patches(p: Params, width: int, height: int, query: ImageQuery) -> int:
    f, max_pixels = p["patch_px"], p["max_pixels"]
    min_pixels = p.get("min_pixels", 4 * f * f)
    h_bar, w_bar = round(height / f) * f, round(width / f) * f
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar, w_bar = math.floor(height / beta / f) * f, math.floor(width / beta / f) * f
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar, w_bar = math.ceil(height * beta / f) * f, math.ceil(width * beta / f) * f
    return int(h_bar * w_bar / (f * f) + p["markers"])


def qwen_patches_bounds(p: Params, query: ImageQuery) -> tuple[int, int]:
    f = p["patch_px"]
    min_pixels = p.get("min_pixels", 4 * f * f)
    return int(min_pixels / (f * f) + p["markers"]), int(p["max_pixels"] / (f * f) + p["markers"])


RULES: Mapping[str, tuple[SizeRule, BoundsRule]] = {
    "openai_tiles": (openai_tiles, openai_tiles_bounds),
    "openai_patches": (openai_patches, openai_patches_bounds),
    "gemini_tiles": (gemini_tiles, gemini_tiles_bounds),
    "gemini_media_resolution": (gemini_media, gemini_media_bounds),
    "qwen_patches": (qwen_patches, qwen_patches_bounds),
}


@functools.lru_cache(maxsize=1024)
def _params(rule: ImageRule, bound: str) -> Params:
    return {name: float(getattr(span, bound)) for name, span in rule.params}


@functools.lru_cache(maxsize=4096)
def image_tokens(rule: ImageRule, query: ImageQuery) -> Range[int]:
    """Tokens one image costs under ``rule``, as low / expected / high.

    Pure, so results are memoised: the same rule and image size cost a lookup next time.
    """
    by_size, bounds = RULES[rule.rule]
    low_p, expected_p, high_p = (_params(rule, b) for b in ("low", "expected", "high"))
    if query.width is None or query.height is None:
        low, _ = bounds(low_p, query)
        _, high = bounds(high_p, query)
        return Range(low, high, high)
    w, h = query.width, query.height
    expected = by_size(expected_p, w, h, query)
    low = min(by_size(low_p, w, h, query), expected)
    high = max(by_size(high_p, w, h, query), expected)
    if rule.rule == "gemini_tiles" and "measured_flat" in low_p:
        low = min(low, int(low_p["measured_flat"]))  # billing measured flat at 258 per image
    return Range(low, expected, high)
