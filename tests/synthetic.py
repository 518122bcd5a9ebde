"""Synthetic ledger rows for report tests and benchmarks: deterministic for a given seed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal

from router import LedgerRow

MODELS = (
    "gpt:gpt-4o-2024-08-06",
    "gpt:gpt-4.1-mini",
    "qwen:qwen3-vl-plus",
    "gemini:gemini-2.5-flash",
    "qwen:qwen3-vl-flash",
)
USERS = ("alice", "bob", "carol", "dan")
PROJECTS = ("atlas", "borealis")
START = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def rows(
    count: int,
    seed: int = 7,
    days: int = 60,
    *,
    models: tuple[str, ...] = MODELS,
    start: float = START,
) -> Iterator[LedgerRow]:
    rng = random.Random(seed)
    for n in range(count):
        model = rng.choice(models)
        status = rng.choices(("ok", "error", "unmetered"), weights=(90, 5, 5))[0]
        expected = Decimal(rng.randint(1_000, 2_000_000)).scaleb(-9)
        cost = (
            Decimal(0)
            if status == "error"
            else (expected * Decimal(rng.randint(50, 150)) / 100).quantize(Decimal("1e-9"))
        )
        tags = {
            "user": rng.choice(USERS),
            "project": rng.choice(PROJECTS),
            "model": model,
            "provider": model.partition(":")[0],
        }
        if rng.random() < 0.7:
            tags["team"] = rng.choice(("vision", "search"))
        yield LedgerRow(
            f"s{seed}-{n}",
            start + rng.random() * days * 86400,
            model,
            model,
            tuple(sorted(tags.items())),
            rng.randint(10, 200_000),
            rng.randint(0, 4000),
            0,
            0,
            expected / 2,
            expected,
            expected * 3,
            cost,
            status,
            rng.random(),
            rng.randint(1, 3),
        )
