"""Render an HTML spend report and look at it in headless Chromium (Debian's ``chromium``).

Run: python -m benchmarks.report_page [--out DIR]
The report of tests/test_report.py's big ledger (3,000 calls on 20 models over 90 days, four
budgets, one over its limit), written to report.html and screenshot by Chromium at 1280 and
400 pixels wide (report-1280.png, report-400.png). Checks that neither picture is blank and
that each holds the chart's ten colours and the over-limit red. Prints the paths.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from router.report.html import PALETTE, to_html
from tests.test_report import NOW, _big_report

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
]
OVER_RED = (0xC6, 0x28, 0x28)


def shoot(browser: str, page: Path, shot: Path, width: int, height: int) -> Image.Image:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                *FLAGS,
                f"--window-size={width},{height}",
                f"--user-data-dir={profile}",
                f"--screenshot={shot.resolve()}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return Image.open(shot).convert("RGB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("needs Debian's chromium: apt-get install chromium")
    report, found = _big_report(NOW - 5.5 * 86400)
    page = out / "report.html"
    page.write_text(to_html(report, found), encoding="utf-8")
    for width, height in ((1280, 2200), (400, 3000)):
        shot = out / f"report-{width}.png"
        image = shoot(browser, page, shot, width, height)
        colours = {colour for _, colour in image.getcolors(maxcolors=1 << 24) or ()}
        wanted = {tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in PALETTE}
        missing = wanted - colours
        if image.getbbox() is None or missing or OVER_RED not in colours:
            raise SystemExit(f"{shot}: blank, or missing colours {missing} / the over-limit red")
        print(f"screenshot: {shot} ({image.width}x{image.height}, {len(colours)} colours)")
    print(f"page: {page} ({page.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
