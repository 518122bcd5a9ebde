"""Fit the text-token estimator on the calibration set and write router/estimate/textmodel.json.

Run: python -m tools.fit_text_model [--calibration ../shared/calibration/texts.jsonl]

Per tokenizer family: greedy forward selection of features from router.estimate.textfeatures.CANDIDATES
by 5-fold cross-validated mean relative error, a ridge fit of the chosen weights on all texts
(weighted so that relative, not absolute, error is minimised), and a [low, high] band wide
enough to hold the exact count of 99.9 % of the out-of-fold predictions, widened by SAFETY.
The file also records the calibration set's sha256 and held-out figures: every text scored by a
model whose whole fit (selection, weights, band) was redone without the text's fold. Needs numpy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from router import TextEstimator
from router.estimate.textfeatures import CANDIDATES, compile_features, count_features

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CALIBRATION = ROOT.parent / "shared" / "calibration" / "texts.jsonl"
OUTPUT = ROOT / "router" / "estimate" / "textmodel.json"
#: Calibration key of each catalog tokenizer family.
FAMILIES = {"o200k": "o200k", "cl100k": "cl100k", "qwen": "qwen", "gemma3": "gemma"}
FOLDS = 5
RIDGE = 1e-3
SLACK_TOKENS = 4
COVERAGE = 0.999
MAX_FEATURES = 24
#: Widens the fitted margins: a band fitted on some texts is narrower than the errors on others.
SAFETY = 1.15
MIN_GAIN = 0.0015  # a feature must cut the CV mean relative error by 0.15 points to join

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


def band(predictions: Matrix, y: Matrix) -> tuple[float, float]:
    """Relative margins (below, above) that with SLACK_TOKENS cover COVERAGE of the texts."""
    below = 1 - (y + SLACK_TOKENS) / predictions
    above = (y - SLACK_TOKENS) / predictions - 1
    q = COVERAGE * 100
    return (
        max(0.0, float(np.percentile(below, q))) * SAFETY,
        max(0.0, float(np.percentile(above, q))) * SAFETY,
    )


def fit_family(x: Matrix, y: Matrix, folds: Matrix) -> dict[str, Any]:
    """Select features, fit weights and band for one family on the rows given."""
    columns = select(x, y, folds)
    weights = ridge(x[:, columns], y)
    below, above = band(out_of_fold(x[:, columns], y, folds), y)
    return {
        "features": [CANDIDATES[c - 1] for c in columns[1:]],
        "intercept": round(float(weights[0]), 6),
        "weights": [round(float(w), 6) for w in weights[1:]],
        "below": round(below, 4),
        "above": round(above, 4),
        "slack": SLACK_TOKENS,
    }


def held_out_ranges(rows: list[dict[str, Any]]) -> dict[str, list[tuple[int, int, int]]]:
    """(low, expected, high) for every row and family, each from a model fitted without it."""
    x = feature_matrix(rows)
    folds = np.array([fold_of(row) for row in rows])
    out: dict[str, list[tuple[int, int, int]]] = {f: [(0, 0, 0)] * len(rows) for f in FAMILIES}
    for family, key in FAMILIES.items():
        y = np.array([row["tokens"][key] for row in rows], dtype=float)
        for k in range(FOLDS):
            train = folds != k
            inner = np.array([fold_of({"id": r["id"] + "#"}) for r in np.array(rows)[train]])
            fitted = fit_family(x[train], y[train], inner)
            estimator = TextEstimator(models={family: fitted})
            for i in np.flatnonzero(~train):
                tokens = estimator.estimate(rows[i]["text"], family)
                out[family][i] = (tokens.low, tokens.expected, tokens.high)
    return out


def held_out_figures(
    rows: list[dict[str, Any]], ranges: list[tuple[int, int, int]], key: str
) -> dict[str, float]:
    """Mean and 95th-percentile relative error of ``expected``, coverage of [low, high], and
    the mean widths high / exact and exact / low, over the held-out ranges of one family."""
    exact = np.array([row["tokens"][key] for row in rows], dtype=float)
    low, expected, high = (np.array(column, dtype=float) for column in zip(*ranges, strict=True))
    errors = np.abs(expected - exact) / exact
    return {
        "mean_error": round(float(errors.mean()), 4),
        "p95_error": round(float(np.percentile(errors, 95)), 4),
        "coverage": round(float(((low <= exact) & (exact <= high)).mean()), 4),
        "high_over_exact": round(float((high / exact).mean()), 4),
        "exact_over_low": round(float((exact / np.maximum(low, 1)).mean()), 4),
    }


def document(path: Path, rows: list[dict[str, Any]], models: dict[str, Any]) -> dict[str, Any]:
    ranges = held_out_ranges(rows)
    return {
        "format": 1,
        "calibration": {
            "file": "shared/calibration/texts.jsonl",
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "texts": len(rows),
        },
        "fit": {
            "folds": FOLDS,
            "coverage": COVERAGE,
            "safety": SAFETY,
            "slack_tokens": SLACK_TOKENS,
            "max_features": MAX_FEATURES,
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
    models = {}
    for family, key in FAMILIES.items():
        y = np.array([row["tokens"][key] for row in rows], dtype=float)
        models[family] = fit_family(x, y, folds)
        print(f"{family}: {len(models[family]['features'])} features")
    text = json.dumps(document(path, rows, models), indent=1, ensure_ascii=False)
    OUTPUT.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
