"""The figure of the label-review loop in docs/results.md: the explorer's flagged view with a few marks,
photographed in Chromium (playwright), as a reviewer sees it.

    zsbench report --results R --out /tmp/page.html
    python examples/review_screenshot.py /tmp/page.html --out docs/img/review-loop.png

It marks the first flagged image "label wrong" (to the suggested class), the second "label right" and the
third "unsure", then keeps the first eight figures and the download bar in the picture.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", help="a report page (zsbench report --out PAGE)")
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.add_argument("--task", type=int, default=0, help="which board column to open (default the first)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 900, "height": 700})
        page.goto(Path(args.page).resolve().as_uri())
        page.wait_for_selector("body[data-explorer=ready]")
        page.locator("#zs-board-table td.cell").nth(args.task).click()
        page.click("#zs-flagged")
        page.wait_for_selector("#zs-grid figure .review")
        page.evaluate("localStorage.clear()")
        bars = page.locator("#zs-grid figure .review")
        bars.nth(0).locator(".mark-wrong").click()
        bars.nth(1).locator(".mark-right").click()
        bars.nth(2).locator(".mark-unsure").click()
        page.evaluate("document.querySelectorAll('#zs-grid figure').forEach((f, i) => { if (i >= 8) f.remove(); })")
        page.evaluate("document.querySelectorAll('#zs-grid details').forEach(d => d.remove())")
        page.locator("#explorer").screenshot(path=args.out)
        browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
