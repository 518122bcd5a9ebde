"""Estimates that learn from the bill: a loopback gateway bills by rules unlike the catalog's;
after at most 50 metered calls, `calibrate --apply` brings new calls' expected input within 1 %
of the bill and expected output per tag within 10 % of the observed median, while every call's
metered cost stays within its reserved worst case."""

from __future__ import annotations

import base64
import io
import math
import random
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from PIL import Image

from pricing import Catalog
from router import GatewayClient, Ledger, Request, Router, default_counter, ledger_from_url
from router.calibrate import learn, usable
from router.estimate.calibration import Calibration, ImageFit, ModelCalibration, Template

from .conftest import RunCli
from .gateway_server import API_KEY, FakeGateway
from .images import png

QWEN, GEMINI = "qwen:qwen3-vl-plus", "gemini:gemini-2.5-flash"
#: How the test gateway bills, unlike the catalog: Qwen adds 7 tokens per message (the catalog
#: says 5) and 3 for the reply, and caps images at 1,310,720 pixels (the catalog expects
#: 2,621,440); Gemini bills a flat 258 per image (the catalog expects its tiles).
QWEN_PER_MESSAGE, QWEN_REPLY, QWEN_MAX_PIXELS = 7, 3, 1_310_720
#: Output per choice around these medians, by what the prompt asks.
MEDIANS = {"summary": 120, "caption": 40}
FAMILY = {QWEN: "qwen", GEMINI: "gemma3"}


def _qwen_image(width: int, height: int) -> int:
    f = 32
    h_bar, w_bar = round(height / f) * f, round(width / f) * f
    if h_bar * w_bar > QWEN_MAX_PIXELS:
        beta = math.sqrt(height * width / QWEN_MAX_PIXELS)
        h_bar, w_bar = math.floor(height / beta / f) * f, math.floor(width / beta / f) * f
    elif h_bar * w_bar < 4 * f * f:
        beta = math.sqrt(4 * f * f / (height * width))
        h_bar, w_bar = math.ceil(height * beta / f) * f, math.ceil(width * beta / f) * f
    return h_bar * w_bar // (f * f) + 2


class BillingGateway(FakeGateway):
    """Bills input by its own rules and output around a median per kind of prompt."""

    def __init__(self) -> None:
        super().__init__()
        self.random = random.Random(7)

    def usage_for(self, body: dict[str, Any]) -> tuple[int, int]:
        model = body["model"]
        text_tokens = image_tokens = 0
        prompt = ""
        for message in body["messages"]:
            content = message["content"]
            parts = [{"text": content}] if isinstance(content, str) else content
            for part in parts:
                if "text" in part:
                    prompt += part["text"]
                    text_tokens += default_counter()(FAMILY[model], part["text"]) or 0
                    continue
                data = part.get("image") or part.get("file_uri") or ""
                size = Image.open(io.BytesIO(base64.b64decode(data.rpartition(",")[2]))).size
                image_tokens += _qwen_image(*size) if model == QWEN else 258
        template = QWEN_PER_MESSAGE * len(body["messages"]) + QWEN_REPLY if model == QWEN else 0
        kind = "summary" if "summar" in prompt else "caption"
        n = body.get("n", 1)
        with self._lock:
            output = sum(
                round(self.random.gauss(MEDIANS[kind], MEDIANS[kind] * 0.08)) for _ in range(n)
            )
        return text_tokens + template + image_tokens, min(output, body["max_tokens"] * n)


SIZES = [
    (640, 480),
    (1600, 1200),
    (1024, 1024),
    (2048, 1536),
    (300, 200),
    (1920, 1080),
    (800, 1200),
]
WORDS = [
    "the",
    "chart",
    "shows",
    "revenue",
    "costs",
    "margin",
    "region",
    "office",
    "travel",
    "plan",
    "quarter",
    "growth",
]


def _requests(seed: int, count: int) -> Iterator[tuple[Request, dict[str, str]]]:
    rng = random.Random(seed)
    for index in range(count):
        kind = "summary" if index % 2 else "caption"
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))
        text = f"Please {'summarise' if kind == 'summary' else 'caption'} this: {words}"
        images = [png(*rng.choice(SIZES)) for _ in range(rng.choice((0, 0, 1, 2)))]
        system = "You are careful." if rng.random() < 0.5 else None
        yield Request.from_prompt(text, images, system=system, max_tokens=400), {"task": kind}


def _router(gateway: FakeGateway, ledger: Ledger) -> Router:
    return Router(
        client=GatewayClient(API_KEY, gateway.base_url),
        ledger=ledger,
        calibration_seconds=0,  # read the ledger's calibration before every call
    )


def _run(router: Router, model: str, seed: int, count: int) -> list[tuple[Any, Any]]:
    """``count`` calls on ``model``: each one's estimate (as planned) and result."""
    out = []
    for request, tags in _requests(seed, count):
        plan = router.plan(request, model=model, tags=tags).chosen.estimate
        out.append((plan, router.call(request, model=model, tags=tags)))
    return out


def test_calibration_learns_the_gateways_billing(ledger: Ledger) -> None:
    """25 calls on each of two models teach the template, the image bound and the output per
    tag; on 20 new calls each, expected input is within 1 % of the bill and expected output per
    tag within 10 % of the median observed; no metered cost exceeds its reserved worst case."""
    with BillingGateway() as gateway:
        router = _router(gateway, ledger)
        before = {model: _run(router, model, seed=1, count=25) for model in (QWEN, GEMINI)}
        calibration, lessons = learn(ledger.rows(), router.catalog)
        qwen, gemini = calibration.models[QWEN], calibration.models[GEMINI]
        assert qwen.template == Template(QWEN_PER_MESSAGE, 0, QWEN_REPLY)
        assert qwen.images == ImageFit("low")  # the catalog's low bound is the 1,310,720 cap
        assert gemini.images == ImageFit("low")  # measured_flat: 258
        assert {lesson.model for lesson in lessons} == {QWEN, GEMINI}
        ledger.store_calibration(calibration, 1_800_000_000.0)
        after = {model: _run(router, model, seed=2, count=20) for model in (QWEN, GEMINI)}
    for model in (QWEN, GEMINI):
        input_errors = [
            abs(plan.input_tokens.expected - result.usage.input_tokens) / result.usage.input_tokens
            for plan, result in after[model]
        ]
        assert max(input_errors) <= 0.01, (model, input_errors)
        early = [
            abs(p.input_tokens.expected - r.usage.input_tokens) / r.usage.input_tokens
            for p, r in before[model]
        ]
        assert max(early) > 0.01  # the catalog's figures were off: the test shows a change
        for kind, median in MEDIANS.items():
            expected = {
                plan.output_tokens.expected
                for plan, result in after[model]
                if dict(result.tags)["task"] == kind
            }
            assert len(expected) == 1
            assert abs(expected.pop() - median) <= 0.10 * median, (model, kind)
    rows = ledger.rows()
    assert len(rows) == 90
    assert all(row.cost <= row.estimate_high for row in rows), [r.note for r in rows if r.note]
    assert not any(row.note for row in rows)


def test_calibrate_command_dry_run_apply_and_reset(tmp_path: Path, run_cli: RunCli) -> None:
    """`calibrate` shows what it learned and changes nothing; --apply stores version 1 and
    `estimate` uses it (the expected input drops to the bill); --reset removes it."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    ledger = ledger_from_url(url)
    with BillingGateway() as gateway:
        _run(_router(gateway, ledger), GEMINI, seed=3, count=24)
    ledger.close()
    dry = run_cli("calibrate", "--ledger", url, "--json")
    assert dry.code == 0, dry.err
    [lesson] = dry.json()["models"]
    assert lesson["model"] == GEMINI
    assert lesson["images"] == {"bound": "low", "scale": 1.0}
    assert lesson["input_error"]["after"] < lesson["input_error"]["before"]
    assert dry.json()["applied"] is False
    assert dry.json()["version"] is None
    image = tmp_path / "chart.png"
    image.write_bytes(png(1600, 1200))
    ask = (
        "estimate",
        "--model",
        GEMINI,
        "--prompt",
        "caption this",
        "--image",
        str(image),
        "--ledger",
        url,
        "--json",
    )
    plain = run_cli(*ask).json()
    applied = run_cli("calibrate", "--ledger", url, "--apply")
    assert applied.code == 0, applied.err
    assert "stored as calibration version 1" in applied.out
    learned = run_cli(*ask).json()
    assert learned["images"][0]["tokens"]["expected"] == 258
    assert plain["images"][0]["tokens"]["expected"] > 258
    assert Decimal(learned["cost"]["high"]) == Decimal(plain["cost"]["high"])  # no opt-in
    reset = run_cli("calibrate", "--ledger", url, "--reset")
    assert reset.code == 0
    assert "removed 1" in reset.out
    assert run_cli(*ask).json() == plain


def test_rows_that_cannot_teach_are_skipped() -> None:
    """Flagged, failed, unmetered, estimated-text and other-model rows teach nothing, and a
    stored calibration round-trips through JSON."""
    from router import LedgerRow
    from router.estimate.basis import Basis

    basis = Basis(10, True, 8, 1, 0, (), 400, 1)
    good = LedgerRow(
        call_id="a", ts=1.0, requested_model=QWEN, served_model=QWEN, tags=(), input_tokens=20,
        output_tokens=5, cached_tokens=0, reasoning_tokens=0, estimate_low=Decimal(0),
        estimate_expected=Decimal(0), estimate_high=Decimal(1), cost=Decimal("0.1"),
        status="ok", latency=0.1, attempts=1, basis=basis,
    )  # fmt: skip
    import attrs

    bad = [
        attrs.evolve(good, note="usage above the reservation"),
        attrs.evolve(good, status="error"),
        attrs.evolve(good, basis=None),
        attrs.evolve(good, basis=attrs.evolve(basis, text_exact=False)),
        attrs.evolve(good, served_model="qwen:qwen3-vl-flash"),
    ]
    assert usable(good)
    assert not any(map(usable, bad))
    calibration, lessons = learn(bad * 10, Catalog.bundled())
    assert calibration.models == {}
    assert lessons == ()
    learned = Calibration(
        {
            QWEN: ModelCalibration(
                5, Template(7, 0, 3), ImageFit("expected", 0.9), {"": 40}, {"": 60}
            )
        }
    )
    assert Calibration.from_json(learned.to_json()) == learned


def test_trust_lowers_the_worst_case_and_without_it_nothing_does(
    tmp_path: Path, run_cli: RunCli
) -> None:
    """With a calibration that bills images at the low bound and output around 40 tokens, the
    worst case stays the catalog's unless --trust-calibration, which lowers it to the lessons;
    a lesson that raises a count (a larger template) raises the worst case even without it."""
    url = f"sqlite:///{tmp_path}/ledger.db"
    ledger = ledger_from_url(url)
    lowered = ModelCalibration(9, None, ImageFit("low"), {"": 40}, {"": 55})
    raised = ModelCalibration(9, Template(20, 0, 10), None, {}, {})
    ledger.store_calibration(Calibration({GEMINI: lowered, QWEN: raised}), 1.0)
    ledger.close()
    image = tmp_path / "chart.png"
    image.write_bytes(png(1600, 1200))

    def estimate(model: str, *flags: str) -> dict[str, Any]:
        args = ("--prompt", "caption this", "--image", str(image), "--ledger", url, "--json")
        done = run_cli("estimate", "--model", model, *args, *flags)
        assert done.code == 0, done.err
        return dict(done.json())

    plain, trusted = estimate(GEMINI), estimate(GEMINI, "--trust-calibration")
    assert (
        plain["images"][0]["tokens"]["expected"]
        == trusted["images"][0]["tokens"]["expected"]
        == 258
    )
    assert plain["images"][0]["tokens"]["high"] > 258
    assert trusted["images"][0]["tokens"]["high"] == 258
    assert plain["output_tokens"] == {"low": 0, "expected": 40, "high": 1000}
    assert trusted["output_tokens"] == {"low": 0, "expected": 40, "high": 55}
    assert Decimal(trusted["cost"]["high"]) < Decimal(plain["cost"]["high"])
    catalog = run_cli("estimate", "--model", QWEN, "--prompt", "caption this", "--json").json()
    more = estimate(QWEN)
    template = 20 * 1 + 10
    assert more["chat_overhead_tokens"] == template
    gain = template - catalog["chat_overhead_tokens"]
    image_tokens = more["images"][0]["tokens"]
    assert (
        more["input_tokens"]["high"]
        == catalog["input_tokens"]["high"] + gain + image_tokens["high"]
    )
