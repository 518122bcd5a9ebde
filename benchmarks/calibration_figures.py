"""Before and after calibration, on the loopback gateway of tests/test_calibration.py (its
billing unlike the catalog's: Qwen 7 template tokens per message and a 1,310,720-pixel image
cap, Gemini 258 per image, outputs around 120 or 40 tokens by task).

Run: python -m benchmarks.calibration_figures
25 calls per model teach; 20 new calls per model are then planned with the catalog's figures
and with the calibration, and compared with what the gateway bills. Mean relative error.
"""

from __future__ import annotations

import statistics

from router import MemoryLedger
from router.calibrate import learn
from tests.test_calibration import GEMINI, MEDIANS, QWEN, BillingGateway, _router, _run


def main() -> None:
    ledger = MemoryLedger()
    with BillingGateway() as gateway:
        router = _router(gateway, ledger)
        for model in (QWEN, GEMINI):
            _run(router, model, seed=1, count=25)
        calibration, _ = learn(ledger.rows(), router.catalog)
        plain = {model: _run(router, model, seed=2, count=20) for model in (QWEN, GEMINI)}
        ledger.store_calibration(calibration, 0.0)
        learned = {model: _run(router, model, seed=2, count=20) for model in (QWEN, GEMINI)}
    print(
        "| model | input error, catalog → calibrated | output error per task, catalog → calibrated |"
    )
    print("|---|---:|---:|")
    for model in (QWEN, GEMINI):
        figures = []
        for runs in (plain[model], learned[model]):
            inputs = [
                abs(p.input_tokens.expected - r.usage.input_tokens) / r.usage.input_tokens
                for p, r in runs
            ]
            outputs = [
                abs(p.output_tokens.expected - MEDIANS[dict(r.tags)["task"]])
                / MEDIANS[dict(r.tags)["task"]]
                for p, r in runs
            ]
            figures.append((statistics.fmean(inputs), statistics.fmean(outputs)))
        (ib, ob), (ia, oa) = figures
        print(
            f"| {model} | {ib * 100:.1f} % → {ia * 100:.2f} % | {ob * 100:.0f} % → {oa * 100:.1f} % |"
        )
    print(
        f"\n{len(ledger.rows())} calls; above their reserved worst case: "
        f"{sum(row.cost > row.estimate_high for row in ledger.rows())}"
    )


if __name__ == "__main__":
    main()
