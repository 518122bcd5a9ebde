"""Render an HTML spend report and look at it in headless Chromium (Debian's ``chromium``).

Run: python -m benchmarks.report_page [--out DIR]
Builds a report from 5,000 synthetic ledger rows on a temporary SQLite ledger, writes
report.html, has Chromium screenshot it to report.png, and checks that the picture is not blank
and that its upper part (where the chart is) holds many colours. Prints the paths.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from PIL import Image

from router import Budget, ReportQuery, ledger_from_url
from router.ledger.sql import SQLLedger
from router.report.html import to_html
from tests.synthetic import rows

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1200,1400",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("needs Debian's chromium: apt-get install chromium")
    with tempfile.TemporaryDirectory() as directory:
        ledger = ledger_from_url(f"sqlite:///{directory}/ledger.db")
        assert isinstance(ledger, SQLLedger)
        ledger.insert_rows(rows(5000))
        ledger.set_budget(Budget.parse("user=alice", "25", period="month"))
        ledger.set_budget(Budget.parse("global", "200", period="total"))
        report = ledger.report(ReportQuery(by=("model",)), time.time(), series=True)
        ledger.close()
        page = out / "report.html"
        page.write_text(to_html(report), encoding="utf-8")
        shot = out / "report.png"
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run(
                [
                    browser,
                    *FLAGS,
                    f"--user-data-dir={profile}",
                    f"--screenshot={shot.resolve()}",
                    page.resolve().as_uri(),
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
    image = Image.open(shot).convert("RGB")
    colours = len(image.crop((0, 0, image.width, 600)).getcolors(maxcolors=1 << 24) or ())
    if image.getbbox() is None or colours <= 50:
        raise SystemExit(f"the page looks blank ({colours} colours in the chart area)")
    print(
        f"page: {page}\nscreenshot: {shot} ({image.width}x{image.height}, {colours} colours in the chart area)"
    )


if __name__ == "__main__":
    main()
