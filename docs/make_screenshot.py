"""Render ``docs/report.png``, the README's picture of the report, from the real page.

Writes the report of the bundled sample exactly as ``dfkit report --sample`` does, opens its
``report.html`` in headless Chromium at a laptop's width, and keeps the top of the page (the
headline figures, where the downloads stand and the first charts), scaled down to stay small::

    apt-get install chromium        # or any Chromium / Chrome on PATH
    .venv/bin/python docs/make_screenshot.py

``--phone`` also writes ``phone.png`` (390 pixels wide, the whole page) into the current
directory, to look at the page as a phone shows it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image  # a dependency of matplotlib

import dfkit
from dfkit.report import write_report

OUT = Path(__file__).with_name("report.png")
WIDTH, HEIGHT = 1280, 2000  # the browser window: a laptop's width, the top of the page
KEEP = 1765  # pixels of the page's top kept: down to the first chart over time
SCALE = 0.62


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("make_screenshot: no Chromium on PATH (apt-get install chromium)")


def screenshot(page: Path, out: Path, width: int, height: int) -> None:
    """Write a PNG of ``page`` as headless Chromium shows it in a ``width`` x ``height`` window."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                _browser(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--screenshot={out}",
                f"--window-size={width},{height}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        page = write_report(dfkit.sample_downloads(), Path(tmp) / "report", source="bundled sample")
        shot = Path(tmp) / "shot.png"
        screenshot(page, shot, WIDTH, HEIGHT)
        full = Image.open(shot).convert("RGB")
        top = full.crop((0, 0, full.width, min(KEEP, full.height)))
        small = top.resize(
            (round(top.width * SCALE), round(top.height * SCALE)), Image.Resampling.LANCZOS
        )
        small.save(OUT, optimize=True)  # full colour: a palette merged the two orange hues
        print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KB, {small.width}x{small.height})")
        if "--phone" in sys.argv[1:]:
            screenshot(page, Path("phone.png"), 390, 6000)
            print("wrote phone.png")


if __name__ == "__main__":
    main()
