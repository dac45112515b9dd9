"""How big and how fast the report's explorer is for 100 models x the 38 DataComp tasks.

Generates run records (the real record writer, real per-sample arrays: keys, top-5, top-10 with
probabilities) for ``--models`` synthetic models on every task of ``--suite`` at its real test size
(``--max-samples`` caps it), builds ``zsbench report`` from them with synthetic thumbnails (smooth
random images, JPEG at the explorer's size: what a photo costs, not a flat colour), and measures in
Chromium (playwright, Debian's /usr/bin/chromium): the file's size, first contentful paint, the
moment the leaderboard is drawn, and the time from a leaderboard click to a drawn image grid.

    python examples/explorer_scale.py /tmp/explorer-scale --models 100
"""
from __future__ import annotations

import argparse
import io
import shutil
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.engine.records import RunRecord, save_record
from bench.report.collect import load_runs
from bench.report.explorer import THUMB_PX
from bench.report.html import build_report
from tasks.classes import get_classnames
from tasks.registry import get_task
from tasks.suites import read_suite


def generate(out: Path, n_models: int, suite: str, max_samples: int | None, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    written = 0
    skills = rng.uniform(0.3, 0.9, n_models)
    for task in read_suite(suite):
        spec = get_task(task)
        n = spec.sizes.get(spec.split) or 20000
        n = min(n, max_samples) if max_samples else n
        c = spec.n_classes
        if spec.kind != "classification" or not c:
            for m in range(n_models):  # retrieval / association: a leaderboard cell, no per-sample classes
                save_record(RunRecord(model=f"ViT-{m % 7}", pretrained=f"data{m}", task=task, split=spec.split,
                                      protocol="zeroshot", metrics={"primary": float(skills[m]) * 0.8},
                                      n_samples=n, templates="t", seed=0, config={"metric": spec.metric},
                                      versions={}, timings={}, task_info={}), out)
                written += 1
            continue
        try:
            names = [str(x) for x in get_classnames(spec.classnames)][:c]
        except Exception:  # noqa: BLE001 - a list that needs the data: numbered names
            names = []
        names += [f"class {i}" for i in range(len(names), c)]
        labels = rng.integers(0, c, n)
        hard = rng.random(n)  # shared difficulty: models agree on easy samples, as real ones do
        keys = np.array([f"{names[l][:12]}/{task}_val_{i:08d}.JPEG" for i, l in enumerate(labels)])
        for m in range(n_models):
            right = hard < skills[m] + rng.normal(0, 0.1, n)
            wrong = (labels + rng.integers(1, max(c, 2), n)) % c
            top1 = np.where(right, labels, wrong)
            k = min(10, c)
            rest = (top1[:, None] + np.arange(1, k)[None, :] * 7) % c
            topk = np.concatenate([top1[:, None], rest], axis=1).astype(np.int32)
            p1 = rng.uniform(0.3, 0.95, n)
            probs = np.concatenate([p1[:, None], ((1 - p1)[:, None] / k) * np.ones((1, k - 1))], axis=1)
            true_prob = np.where(right, p1, (1 - p1) / k).astype(np.float32)
            preds = {"indices": np.arange(n), "labels": labels, "top5": topk[:, :5], "topk": topk,
                     "topk_prob": probs.astype(np.float32), "true_prob": true_prob,
                     "margin": (true_prob - p1).astype(np.float32), "keys": keys}
            acc = float(right.mean())
            rec = RunRecord(model=f"ViT-{m % 7}", pretrained=f"data{m}", task=task, split=spec.split,
                            protocol="zeroshot", metrics={"top1": acc, "primary": acc}, n_samples=n, templates="t",
                            seed=0, config={"metric": "top1"}, versions={}, timings={},
                            task_info={"classnames": names, "data_fingerprint": f"{task}-{n}"})
            save_record(rec, out, preds)
            written += 1
        print(f"  {task}: {n:,} samples x {n_models} models", flush=True)
    return written


def synthetic_thumbnails(task: str, record, indices: np.ndarray) -> list[bytes]:
    """A smooth random image per sample (an 8x8 colour field, upsampled, with mild noise), as a JPEG."""
    out = []
    for i in indices:
        rng = np.random.default_rng(int(i) * 7919 + len(task))
        small = Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).resize((THUMB_PX, THUMB_PX),
                                                                                          Image.BICUBIC)
        arr = np.clip(np.asarray(small, dtype=np.int16) + rng.integers(-12, 12, (THUMB_PX, THUMB_PX, 3)), 0, 255)
        buf = io.BytesIO()
        Image.fromarray(arr.astype(np.uint8)).save(buf, format="JPEG", quality=70)
        out.append(buf.getvalue())
    return out


def measure(page_file: Path, chromium: str = "/usr/bin/chromium") -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(page_file.as_uri(), wait_until="commit")
        page.wait_for_selector("body[data-explorer=ready]", timeout=120_000)
        page.wait_for_load_state("load", timeout=120_000)
        timing = page.evaluate("""() => ({
            fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
            board: (performance.getEntriesByName('zs-board')[0] || {}).startTime,
            load: performance.getEntriesByType('navigation')[0].loadEventEnd})""")
        t0 = time.perf_counter()
        page.locator("#zs-board-table td.cell").first.click()
        page.wait_for_selector("#zs-classes tr.cls")
        page.locator("#zs-classes tr.cls").first.click()
        page.wait_for_selector("#zs-grid")
        page.evaluate("Promise.all([...document.querySelectorAll('#zs-grid img')].map(i => i.decode()))")
        timing["click_to_grid"] = (time.perf_counter() - t0) * 1000
        browser.close()
    return timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--suite", default="datacomp")
    parser.add_argument("--max-samples", type=int, default=None, help="cap each task's test size")
    parser.add_argument("--samples-per-task", type=int, default=240)
    parser.add_argument("--reuse", action="store_true", help="keep records already generated in FOLDER")
    args = parser.parse_args()
    results = args.folder / "results"
    if not args.reuse or not results.exists():
        shutil.rmtree(results, ignore_errors=True)
        t0 = time.perf_counter()
        n = generate(results, args.models, args.suite, args.max_samples)
        print(f"generated {n:,} records in {time.perf_counter() - t0:.0f} s")
    runs = load_runs(results)
    t0 = time.perf_counter()
    page = build_report(runs, args.folder / "report.html", samples_per_task=args.samples_per_task,
                        thumbnails=synthetic_thumbnails)
    built = time.perf_counter() - t0
    size = page.stat().st_size / 1e6
    timing = measure(page)
    print(f"{len(runs):,} records: report built in {built:.0f} s, {size:.1f} MB; in Chromium: first contentful paint "
          f"{timing['fcp']:.0f} ms, leaderboard drawn {timing['board']:.0f} ms, load event {timing['load']:.0f} ms, "
          f"click to image grid {timing['click_to_grid']:.0f} ms")


if __name__ == "__main__":
    main()
