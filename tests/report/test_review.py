"""The label-review loop: marks made in the explorer (Chromium), downloaded as review.json, applied by
``zsbench samples --review`` and shown by ``zsbench leaderboard --review``; and its bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest

from bench.report.collect import load_runs
from bench.report.samples import load_task_samples
from helpers.browser import explorer_page, require_chromium
from helpers.cli import run_cli as zsbench
from helpers.records import add

MODELS = (("A", 0.9, "20260101T000000"), ("B", 0.8, "20260102T000000"), ("C", 0.6, "20260103T000000"))


@pytest.fixture
def results(tmp_path):
    out = tmp_path / "results"
    for name, acc, created in MODELS:
        add(out, name, "p", "cifar10", acc, n=300, created=created, probs=True)
    return out


def _review(results, marks, **over):
    samples = load_task_samples(load_runs(results), "cifar10")
    return {"format": "zsbench-review-v1", "task": "cifar10", "fingerprint": samples.fingerprint,
            "classnames": [samples.name(c) for c in range(10)], "marks": marks, **over}, samples


def test_applied_review_equals_a_hand_count_and_records_do_not_change(results, tmp_path):
    samples = load_task_samples(load_runs(results), "cifar10")
    wrong = np.flatnonzero(samples.models[0].predicted != samples.labels)[:3]   # relabel to model A's answer
    marks = [{"key": str(samples.keys[p]), "label": samples.name(int(samples.labels[p])), "verdict": "wrong",
              "correct": samples.name(int(samples.models[0].predicted[p]))} for p in wrong]
    marks.append({"key": str(samples.keys[0]), "label": samples.name(int(samples.labels[0])), "verdict": "right"})
    review, _ = _review(results, marks)
    path = tmp_path / "review.json"
    path.write_text(json.dumps(review))
    before = sorted(p.read_bytes() for p in (results / "runs").iterdir())
    r = zsbench("samples", results, "--task", "cifar10", "--review", path, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    labels = samples.labels.copy()
    labels[wrong] = samples.models[0].predicted[wrong]
    for m in samples.models:
        row = next(x for x in out["models"] if x["model"] == m.label)
        assert row["top1"] == pytest.approx(np.mean(m.predicted == samples.labels))
        assert row["top1_reviewed"] == pytest.approx(np.mean(m.predicted == labels))
        assert row["interval_reviewed"][0] < row["top1_reviewed"] < row["interval_reviewed"][1]
    assert len(out["changed"]) == 3 and out["marks"] == {"wrong": 3, "right": 1, "unsure": 0}
    text = zsbench("samples", results, "--task", "cifar10", "--review", path).stdout
    assert "3 label(s) changed by" in text and "records unchanged" in text and "changed: " in text
    board = zsbench("leaderboard", "--results", results, "--review", path)
    assert board.returncode == 0, board.stderr
    assert "cifar10 (reviewed)" in board.stdout and "reviewed: cifar10 (reviewed): top-1 on the labels" in board.stdout
    assert sorted(p.read_bytes() for p in (results / "runs").iterdir()) == before


@pytest.mark.parametrize("change, words", [
    ({"task": "cifar100"}, "was made for task cifar100, not cifar10"),
    ({"fingerprint": "0" * 20}, "was made on other data"),
    ({"marks": [{"key": "0", "label": "0", "verdict": "wrong", "correct": "giraffe"}]},
     "relabelled to 'giraffe', which is not a class of cifar10"),
    ({"marks": [{"key": "no-such-sample", "label": "0", "verdict": "right"}]}, "sample no-such-sample is not among"),
    ({"marks": [{"key": "0", "verdict": "maybe"}]}, "needs a key and a verdict"),
    ({"format": "something-else"}, "not a zsbench-review-v1 file"),
])
def test_bad_review_files_are_one_line_and_exit_2(results, tmp_path, change, words):
    review, _ = _review(results, [])
    review.update(change)
    path = tmp_path / "review.json"
    path.write_text(json.dumps(review))
    r = zsbench("samples", results, "--task", "cifar10", "--review", path)
    assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.slow
def test_review_loop_in_chromium_mark_download_apply(results, tmp_path):
    require_chromium()
    page_file = tmp_path / "r.html"
    r = zsbench("report", "--results", results, "--out", page_file, "--quiet", cache=tmp_path / "c", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    downloaded = tmp_path / "review.json"
    with explorer_page(page_file, accept_downloads=True) as (page, errors):
        page.locator("#zs-board-table td.cell").first.click()
        page.wait_for_selector("#zs-calibration tr.cal", state="attached")   # inside a closed <details>
        assert page.locator("#zs-calibration tr.cal").count() == 3   # every model's ECE, NLL, Brier
        page.click("#zs-flagged")
        page.wait_for_selector("#zs-grid figure .review")
        bars = page.locator("#zs-grid figure .review")
        assert bars.count() >= 3
        keys = page.locator("#zs-grid figure").evaluate_all("fs => fs.filter(f => f.querySelector('.review'))"
                                                            ".map(f => f.getAttribute('data-key'))")
        first = bars.nth(0)
        label = page.locator("#zs-grid figure").filter(has=page.locator(".review")).nth(0).get_attribute("data-key")
        options = first.locator("select option").all_text_contents()
        current = first.locator("select").input_value()
        target = next(o for o in options if o != current)
        first.locator("select").select_option(target)
        first.locator(".mark-wrong").click()
        bars.nth(1).locator(".mark-right").click()
        bars.nth(2).locator(".mark-unsure").click()
        assert "3 marked (1 wrong, 1 right, 1 unsure)" in page.text_content("#zs-review-count")
        page.reload()   # the marks live in the browser's storage
        page.wait_for_selector("body[data-explorer=ready]")
        page.locator("#zs-board-table td.cell").first.click()
        page.click("#zs-flagged")
        page.wait_for_selector("#zs-review-count")
        assert "3 marked (1 wrong, 1 right, 1 unsure)" in page.text_content("#zs-review-count")
        with page.expect_download() as info:
            page.click("#zs-review-download")
        info.value.save_as(downloaded)
    assert errors == []
    review = json.loads(downloaded.read_text())
    assert review["task"] == "cifar10" and review["format"] == "zsbench-review-v1"
    wrong = [m for m in review["marks"] if m["verdict"] == "wrong"]
    assert [(m["key"], m["correct"]) for m in wrong] == [(label, target)] and label in keys
    r = zsbench("samples", results, "--task", "cifar10", "--review", downloaded, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["changed"][0]["to"] == target and out["marks"] == {"wrong": 1, "right": 1, "unsure": 1}
    board = zsbench("leaderboard", "--results", results, "--review", downloaded)
    assert board.returncode == 0 and "cifar10 (reviewed)" in board.stdout, board.stderr
