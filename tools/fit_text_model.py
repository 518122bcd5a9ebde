"""Fit the text-token estimator on the calibration set and write router/estimate/textmodel.json.

Run: python -m tools.fit_text_model [--calibration ../shared/calibration/texts.jsonl]

Per tokenizer family: greedy forward selection of features from router.estimate.textfeatures.CANDIDATES
by 5-fold cross-validated mean relative error, a ridge fit of the chosen weights on all texts
(weighted so that relative, not absolute, error is minimised), then bands per category (what the
text's bytes say it is: prose, code, data, ids, noise, cjk, other scripts, emoji) and length
bucket, from the out-of-fold log errors: a scale (their median: the category's bias) and a
spread (their root mean square), each taken over the texts of that category in that bucket and
longer ones (MIN_TEXTS at least, else the shorter bucket's); the margin is the QUANTILE of the
errors divided by their spread, pooled over categories per bucket, times SAFETY, times the
spread. The file also records the calibration set's sha256 and held-out figures per length
bucket: every text scored by a model whose whole fit (selection, weights, bands) was redone
without the text's fold. Needs numpy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from router import TextEstimator
from router.estimate.textfeatures import (
    CANDIDATES,
    CATEGORIES,
    CLASS_TABLE,
    CONTINUATION,
    LENGTH_BUCKETS,
    category,
    compile_features,
    count_features,
    length_bucket,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CALIBRATION = ROOT.parent / "shared" / "calibration" / "texts.jsonl"
OUTPUT = ROOT / "router" / "estimate" / "textmodel.json"
#: Calibration key of each catalog tokenizer family.
FAMILIES = {"o200k": "o200k", "cl100k": "cl100k", "qwen": "qwen", "gemma3": "gemma"}
FOLDS = 5
RIDGE = 1e-3
SLACK_TOKENS = 4
MAX_FEATURES = 40
MIN_GAIN = 0.0003  # a feature must cut the CV mean relative error by 0.03 points to join
#: Of the out-of-fold errors divided by their category's spread, pooled per length bucket.
QUANTILE = 0.995
#: Widens the margins: errors on texts not seen run wider than on the texts fitted.
SAFETY = 1.4
#: Texts a category needs (in a bucket and longer) for a scale and spread of its own.
MIN_TEXTS = 3

Matrix = Any  # numpy arrays; numpy's own stubs are too loose to help here


def load_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def feature_matrix(rows: list[dict[str, Any]]) -> Matrix:
    compiled = compile_features(CANDIDATES)
    counts = [
        [1, *count_features(row["text"].encode("utf-8", "surrogatepass"), compiled)] for row in rows
    ]
    return np.array(counts, dtype=float)


def fold_of(row: dict[str, Any]) -> int:
    return zlib.crc32(row["id"].encode()) % FOLDS


def ridge(x: Matrix, y: Matrix) -> Matrix:
    """Weights minimising the squared relative error, with a small ridge on scaled features."""
    a = x / y[:, None]
    scale = np.abs(a).max(axis=0) + 1e-9
    scaled = a / scale
    gram = scaled.T @ scaled + RIDGE * np.eye(a.shape[1])
    return np.linalg.solve(gram, scaled.T @ np.ones(len(y))) / scale


def out_of_fold(x: Matrix, y: Matrix, folds: Matrix) -> Matrix:
    predictions = np.zeros(len(y))
    for k in range(FOLDS):
        train = folds != k
        predictions[~train] = x[~train] @ ridge(x[train], y[train])
    return predictions


def select(x: Matrix, y: Matrix, folds: Matrix) -> list[int]:
    """Greedy forward selection (column 0, the intercept, and 1, bytes, always in)."""
    chosen = [0, 1]

    def error(cols: list[int]) -> float:
        return float((np.abs(out_of_fold(x[:, cols], y, folds) - y) / y).mean())

    current = error(chosen)
    while len(chosen) < MAX_FEATURES:
        scores = [(error([*chosen, c]), c) for c in range(x.shape[1]) if c not in chosen]
        best, column = min(scores)
        if best > current - MIN_GAIN:
            break
        chosen.append(column)
        current = best
    return chosen


def text_groups(rows: list[dict[str, Any]]) -> tuple[Matrix, Matrix]:
    """Each text's category and length bucket index, as the estimator reads them."""
    classes = [
        row["text"].encode("utf-8", "surrogatepass").translate(CLASS_TABLE, CONTINUATION)
        for row in rows
    ]
    return (
        np.array([category(c) for c in classes]),
        np.array([length_bucket(len(c)) for c in classes]),
    )


def bands(errors: Matrix, cats: Matrix, buckets: Matrix) -> dict[str, dict[str, list[float]]]:
    """Scale, low and high factors per category and bucket from log errors ``log(exact/value)``."""
    scale: dict[tuple[str, int], float] = {}
    spread: dict[tuple[str, int], float] = {}
    for name in CATEGORIES:
        for index in range(len(LENGTH_BUCKETS)):
            chosen = (cats == name) & (buckets >= index)
            enough = chosen.sum() >= MIN_TEXTS
            scale[name, index] = (
                float(np.median(errors[chosen])) if enough else scale.get((name, index - 1), 0.0)
            )
    residual = errors - np.array([scale[c, b] for c, b in zip(cats, buckets, strict=True)])
    for index in range(len(LENGTH_BUCKETS)):
        pooled = float(np.sqrt(np.mean(residual[buckets >= index] ** 2)))
        for name in CATEGORIES:
            chosen = (cats == name) & (buckets >= index)
            if chosen.sum() >= MIN_TEXTS:
                spread[name, index] = float(np.sqrt(np.mean(residual[chosen] ** 2))) + 1e-3
            else:
                spread[name, index] = spread.get((name, index - 1), pooled)
    normalised = np.abs(residual) / np.array(
        [spread[c, b] for c, b in zip(cats, buckets, strict=True)]
    )
    margin = [
        float(np.quantile(normalised[buckets >= index], QUANTILE)) * SAFETY
        for index in range(len(LENGTH_BUCKETS))
    ]
    return {
        name: {
            "scale": [round(math.exp(scale[name, i]), 4) for i in range(len(LENGTH_BUCKETS))],
            "low": [
                round(math.exp(-margin[i] * spread[name, i]), 4) for i in range(len(LENGTH_BUCKETS))
            ],
            "high": [
                round(math.exp(margin[i] * spread[name, i]), 4) for i in range(len(LENGTH_BUCKETS))
            ],
        }
        for name in CATEGORIES
    }


def fit_family(
    x: Matrix, y: Matrix, folds: Matrix, cats: Matrix, buckets: Matrix
) -> dict[str, Any]:
    """Select features, fit weights and bands for one family on the rows given."""
    columns = select(x, y, folds)
    weights = ridge(x[:, columns], y)
    value = np.maximum(out_of_fold(x[:, columns], y, folds), 1.0)  # the estimator's floor
    return {
        "features": [CANDIDATES[c - 1] for c in columns[1:]],
        "intercept": round(float(weights[0]), 6),
        "weights": [round(float(w), 6) for w in weights[1:]],
        "categories": bands(np.log(y / value), cats, buckets),
        "slack": SLACK_TOKENS,
    }


def held_out_ranges(rows: list[dict[str, Any]]) -> dict[str, list[tuple[int, int, int]]]:
    """(low, expected, high) for every row and family, each from a model fitted without it."""
    x = feature_matrix(rows)
    folds = np.array([fold_of(row) for row in rows])
    cats, buckets = text_groups(rows)
    out: dict[str, list[tuple[int, int, int]]] = {f: [(0, 0, 0)] * len(rows) for f in FAMILIES}
    for family, key in FAMILIES.items():
        y = np.array([row["tokens"][key] for row in rows], dtype=float)
        for k in range(FOLDS):
            train = folds != k
            inner = np.array([fold_of({"id": r["id"] + "#"}) for r in np.array(rows)[train]])
            fitted = fit_family(x[train], y[train], inner, cats[train], buckets[train])
            estimator = TextEstimator(None, models={family: fitted})  # no exact counts
            for i in np.flatnonzero(~train):
                tokens = estimator.estimate(rows[i]["text"], family)
                out[family][i] = (tokens.low, tokens.expected, tokens.high)
    return out


def _figures(exact: Matrix, low: Matrix, expected: Matrix, high: Matrix) -> dict[str, float]:
    errors = np.abs(expected - exact) / exact
    return {
        "texts": len(exact),
        "mean_error": round(float(errors.mean()), 4),
        "p95_error": round(float(np.percentile(errors, 95)), 4),
        "coverage": round(float(((low <= exact) & (exact <= high)).mean()), 4),
        "high_over_exact": round(float((high / exact).mean()), 4),
        "exact_over_low": round(float((exact / np.maximum(low, 1)).mean()), 4),
    }


def held_out_figures(
    rows: list[dict[str, Any]], ranges: list[tuple[int, int, int]], key: str
) -> dict[str, dict[str, float]]:
    """Over the held-out ranges of one family, in all and per length bucket: the mean and
    95th-percentile relative error of ``expected``, the coverage of [low, high], and the mean
    widths high / exact and exact / low."""
    exact = np.array([row["tokens"][key] for row in rows], dtype=float)
    low, expected, high = (np.array(column, dtype=float) for column in zip(*ranges, strict=True))
    _, buckets = text_groups(rows)
    figures = {"all": _figures(exact, low, expected, high)}
    bounds = (*LENGTH_BUCKETS[1:], None)
    for index, (start, end) in enumerate(zip(LENGTH_BUCKETS, bounds, strict=True)):
        chosen = buckets == index
        name = f"{start}+" if end is None else f"{start}-{end - 1}"
        figures[name] = _figures(exact[chosen], low[chosen], expected[chosen], high[chosen])
    return figures


def document(path: Path, rows: list[dict[str, Any]], models: dict[str, Any]) -> dict[str, Any]:
    ranges = held_out_ranges(rows)
    return {
        "format": 2,
        "calibration": {
            "file": "shared/calibration/texts.jsonl",
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "texts": len(rows),
        },
        "fit": {
            "folds": FOLDS,
            "quantile": QUANTILE,
            "safety": SAFETY,
            "min_texts": MIN_TEXTS,
            "slack_tokens": SLACK_TOKENS,
            "max_features": MAX_FEATURES,
            "length_buckets": list(LENGTH_BUCKETS),
        },
        "held_out": {
            family: held_out_figures(rows, ranges[family], key) for family, key in FAMILIES.items()
        },
        "families": models,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calibration", type=Path, default=DEFAULT_CALIBRATION)
    path = parser.parse_args().calibration
    rows = load_rows(path)
    x = feature_matrix(rows)
    folds = np.array([fold_of(row) for row in rows])
    cats, buckets = text_groups(rows)
    models = {}
    for family, key in FAMILIES.items():
        y = np.array([row["tokens"][key] for row in rows], dtype=float)
        models[family] = fit_family(x, y, folds, cats, buckets)
        print(f"{family}: {len(models[family]['features'])} features")
    text = json.dumps(document(path, rows, models), indent=1, ensure_ascii=False)
    OUTPUT.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
