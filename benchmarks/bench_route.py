"""Routing speed over the full bundled catalog: a text + one image request (size known).

Run: python benchmarks/bench_route.py
Text is counted exactly (the default). The short request is the README's; the 2 KB ones are
slices of docs/guide.md, each a text the engines have not seen when "new text".
"cold" clears the selector's decision cache before every call, so the whole ranking runs (the
image's header and its per-rule token counts stay memoised, as in a running process); "repeated"
routes a new Request object equal to one routed before (its own parts, messages and request
objects, so hashing it is part of the cost; the image bytes object is shared) and hits the
cache. Both use the default policy (undated ids).
"""

from __future__ import annotations

import io
import statistics
import time
import timeit
from pathlib import Path

import attrs
from PIL import Image

from router import Request, Selector

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (1600, 1200), (40, 90, 160)).save(buffer, "PNG")
    request = Request.from_prompt(
        "Describe this picture in detail, listing every object you can see.",
        [buffer.getvalue()],
        system="You are a careful visual analyst.",
    )
    selector = Selector()
    decision = selector.route(request)
    print(f"{len(decision.candidates)} candidates, {len(decision.rejected)} rejected")

    def cold() -> None:
        selector._cache.clear()
        selector.route(request)

    def copy(request: Request) -> Request:
        """An equal request made of new objects (nothing hashed yet)."""
        messages = tuple(
            attrs.evolve(m, parts=tuple(attrs.evolve(p) for p in m.parts)) for m in request.messages
        )
        return attrs.evolve(request, messages=messages)

    repeats = 5000  # routes per timing; each needs its own copy (about 600 bytes)
    copies = iter([copy(request) for _ in range(repeats * 7)])

    print("| routing a text + image request over 56 models | µs per call (best of 7) |")
    print("|---|---:|")
    for name, call, number in (
        ("cold (full ranking)", cold, 300),
        ("repeated request (decision cache)", lambda: selector.route(next(copies)), repeats),
    ):
        best = min(timeit.repeat(call, number=number, repeat=7)) / number
        print(f"| {name} | {best * 1e6:.1f} |")

    guide = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")
    texts = [guide[i : i + 2000] for i in range(0, len(guide) - 2000, 997)]
    image = [buffer.getvalue()]
    long = Request.from_prompt(texts[0], image)

    def cold_long() -> None:
        selector._cache.clear()
        selector.route(long)

    best = min(timeit.repeat(cold_long, number=100, repeat=7)) / 100
    print(f"| cold, 2 KB of text + the image, the same text | {best * 1e6:.1f} |")
    times = []
    for text in texts[1:]:
        request = Request.from_prompt(text, image)
        start = time.perf_counter()
        selector.route(request)
        times.append(time.perf_counter() - start)
    print(
        f"| cold, 2 KB of text + the image, a new text each time (median of {len(times)}) "
        f"| {statistics.median(times) * 1e6:.1f} |"
    )


if __name__ == "__main__":
    main()
