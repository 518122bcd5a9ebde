"""Microseconds per call to price a usage: a flat-rate model and a tiered one.

Run: python benchmarks/bench_price.py
The usage and model are built once; the loop measures `pricing.price` alone (tier pick, exact
Decimal arithmetic, the Cost value).
"""

from __future__ import annotations

import timeit

from pricing import Catalog, Usage, price


def per_call_us(stmt: str, env: dict[str, object], number: int = 200_000) -> float:
    best = min(timeit.repeat(stmt, globals=env, number=number, repeat=5))
    return best / number * 1e6


def main() -> None:
    catalog = Catalog.load()
    cases = {
        "flat (gpt:gpt-4o)": (catalog.get("gpt:gpt-4o"), Usage(1_200, 300)),
        "tiered, 1st tier (qwen:qwen3-vl-plus)": (
            catalog.get("qwen:qwen3-vl-plus"),
            Usage(1_200, 300),
        ),
        "tiered, 3rd tier (qwen:qwen3-vl-plus)": (
            catalog.get("qwen:qwen3-vl-plus"),
            Usage(150_000, 300),
        ),
        "tiered + cached (gemini:gemini-2.5-pro)": (
            catalog.get("gemini:gemini-2.5-pro"),
            Usage(210_000, 300, 1000),
        ),
    }
    print("| usage | µs per call (best of 5) |")
    print("|---|---:|")
    for name, (model, usage) in cases.items():
        us = per_call_us("price(model, usage)", {"price": price, "model": model, "usage": usage})
        print(f"| {name} | {us:.2f} |")


if __name__ == "__main__":
    main()
