"""Render ``docs/report.png``, the README's picture of the report, from the real report.

Builds the report of the bundled sample exactly as ``dfkit report --sample`` does and puts its
two charts side by side, scaled down to stay small::

    .venv/bin/python docs/make_screenshot.py
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image  # a dependency of matplotlib

import dfkit
from dfkit.report import build_report

OUT = Path(__file__).with_name("report.png")
WIDTH = 1400  # pixels, both charts together


def main() -> None:
    report = build_report(dfkit.sample_downloads(), source="bundled sample")
    left, right = (
        Image.open(io.BytesIO(report.images[name])).convert("RGB")
        for name in ("downloads_over_time.png", "records_cumulative.png")
    )
    gap = 16
    canvas = Image.new(
        "RGB", (left.width + gap + right.width, max(left.height, right.height)), "white"
    )
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width + gap, 0))
    height = round(canvas.height * WIDTH / canvas.width)
    small = canvas.resize((WIDTH, height), Image.Resampling.LANCZOS)
    small.save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KB, {WIDTH}x{height})")


if __name__ == "__main__":
    main()
