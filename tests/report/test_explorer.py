"""The report's explorer: the data it embeds (unit tests) and the page clicked through in Chromium."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from bench.engine.metrics import mcnemar_exact
from bench.engine.records import load_predictions
from bench.report.collect import load_runs
from bench.report.explorer import bits, explorer_data, script_json, shown_samples
from bench.report.samples import TaskSamples
from helpers.browser import explorer_page, require_chromium
from helpers.cli import run_cli as zsbench
from helpers.records import add


class _M:
    def __init__(self, predicted, labels):
        from bench.engine.protocol import SampleResults

        self.predicted = np.asarray(predicted)
        self.results = SampleResults(np.arange(len(labels)), labels, self.predicted, self.predicted == labels)


def _samples(labels, *predictions) -> TaskSamples:
    labels = np.asarray(labels)
    t = TaskSamples("t", [f"c{i}" for i in range(labels.max() + 1)], [], np.arange(len(labels)), labels,
                    np.arange(len(labels)).astype(str))
    t.models = [_M(p, labels) for p in predictions]
    return t


def test_shown_samples_put_flagged_then_disputed_first_and_spread_over_classes():
    labels = np.array([0] * 6 + [1] * 6)
    a = labels.copy(); a[[1, 7]] = 9       # 1 and 7: disputed (one model of two wrong)
    b = labels.copy(); b[[2, 2]] = 9; b[8] = 9
    b[3] = 9; a[3] = 9                      # 3: no model right
    s = _samples(labels, a, b)
    flagged = np.array([10])
    got = shown_samples(s, flagged, 4)
    # round one: class 1's flagged 10 and class 0's most disputed; round two: each class's next
    assert set(got) == {10, 1, 2, 7} or set(got) == {10, 1, 7, 2}
    assert len(shown_samples(s, flagged, 100)) == 12
    assert sorted(shown_samples(s, np.empty(0, int), 2).tolist()) == [1, 7]  # one per class, disputed first


def test_bits_are_numpy_packbits_and_script_json_cannot_close_its_block():
    v = np.random.default_rng(0).random(37) < 0.5
    raw = np.frombuffer(base64.b64decode(bits(v)), dtype=np.uint8)
    assert np.array_equal(np.unpackbits(raw)[:37].astype(bool), v)
    text = script_json({"name": "</script><script>alert(1)</script><!--"})
    assert "<" not in text and json.loads(text)["name"].startswith("</script>")


def test_payload_per_class_and_cells_match_the_records(tmp_path):
    out = tmp_path / "results"
    add(out, "ViT-B-32", "openai", "cifar10", 0.9)
    add(out, "ViT-B-32", "laion2b_s34b_b79k", "cifar10", 0.7)
    add(out, "RN50", "openai", "mnist", 0.6, metric="mean_per_class_recall")
    runs = load_runs(out)
    data = explorer_data(runs, "t", samples_per_task=50, thumbnails=None)
    tasks = [t["name"] for t in data.board["tasks"]]
    j = tasks.index("cifar10")
    payload = data.tasks[j]
    for k, mi in enumerate(payload["models"]):  # by hand from each record's predictions file
        label = data.board["models"][mi]
        row = runs[(runs.task == "cifar10") & (runs.pretrained == label["pretrained"])].iloc[0]
        p = load_predictions(Path(row.path))
        right = p["top5"][:, 0] == p["labels"]
        hand = [round(100 * right[p["labels"] == c].mean(), 1) for c in range(10)]
        assert payload["per_class"][k] == hand
    assert len(payload["shown"]["key"]) == 50 and payload["n"] == 400
    cells = {(data.board["models"][c[0]]["pretrained"], tasks[c[1]]): c for c in data.board["cells"]}
    value, lo, hi = cells[("openai", "cifar10")][2:5]
    assert lo < value < hi and hi - lo < 7       # Wilson, n = 400
    assert cells[("openai", "mnist")][5].startswith("normal 95%, per class")


def _evil_folder(root: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    names = ['<em id="pwned">em', "plain & simple", "quote's \"class\""]
    for c, name in enumerate(names):
        (root / name).mkdir(parents=True)
        for i in range(6):
            arr = rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
            arr[..., c] = 250
            Image.fromarray(arr).save(root / name / f"img{i}.png")
    return root


@pytest.mark.slow
def test_explorer_in_chromium_from_leaderboard_cell_to_image_grid(vit_s32_checkpoint, tmp_path):
    require_chromium()
    folder = _evil_folder(tmp_path / "evil")
    res = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--model", "ViT-S-32", "--pretrained",
                  str(vit_s32_checkpoint), "--task", str(folder), "--workers", "0", "--quiet", "--out",
                  tmp_path / "results", cache=tmp_path / "c", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    res = zsbench("report", "--results", tmp_path / "results", "--out", tmp_path / "r.html", "--quiet",
                  cache=tmp_path / "c", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    page_file = tmp_path / "r.html"
    text = page_file.read_text()
    assert '<em id="pwned">' not in text
    preds = [load_predictions(p) for p in sorted((tmp_path / "results" / "runs").glob("*.json"))]
    right = [p["top5"][:, 0] == p["labels"] for p in preds]
    with explorer_page(page_file) as (page, errors):
        assert page.locator("#zs-board-table td.cell").count() == 2
        page.locator("#zs-board-table td.cell").first.click()
        page.wait_for_selector("#zs-classes tr.cls")
        assert page.locator("#zs-classes tr.cls").count() == 3
        page.locator("#zs-classes tr.cls", has_text='<em id="pwned">em').click()   # the literal text
        page.wait_for_selector("#zs-grid figure img")
        figures = page.locator("#zs-grid figure")
        assert figures.count() == 6
        keys = sorted(figures.evaluate_all("fs => fs.map(f => f.getAttribute('data-key'))"))
        assert keys == sorted(f'<em id="pwned">em/img{i}.png' for i in range(6))
        loaded = page.evaluate("Promise.all([...document.querySelectorAll('#zs-grid img')].map(i => i.decode()"
                               ".then(() => i.naturalWidth)))")
        assert len(loaded) == 6 and all(w > 0 for w in loaded)
        assert page.evaluate("document.getElementById('pwned')") is None
        assert '<em id="pwned">em' in page.text_content("#zs-grid")
        page.click("#zs-ab")
        shown = page.text_content("#zs-ab-test")
        p_text = shown.split("p = ")[1]
        assert float(p_text) == pytest.approx(mcnemar_exact(right[0], right[1]), rel=5e-3)
        for b, c in ((0, 0), (3, 11), (40, 61), (2000, 2100)):
            ref = mcnemar_exact(np.r_[np.ones(b), np.zeros(c)], np.r_[np.zeros(b), np.ones(c)])
            assert page.evaluate(f"zsMcnemar({b}, {c})") == pytest.approx(ref, rel=1e-9, abs=1e-300)
        page.click("#zs-flagged")
        page.wait_for_selector("#zs-grid")
    assert errors == []


def test_a_vs_b_keeps_samples_of_every_side_whatever_fills_the_budget():
    """Issue 39: flagged label issues (on which both models are right) used to fill the page's budget, so A vs B
    showed "B right, A wrong (0 of 1426 shown)". Every pair of models now keeps examples of each side."""
    labels = np.arange(2000) % 10
    a, b = labels.copy(), labels.copy()
    a[100:130] = (labels[100:130] + 1) % 10                 # B right, A wrong
    b[130:160] = (labels[130:160] + 1) % 10                 # A right, B wrong
    a[160:170] = b[160:170] = (labels[160:170] + 1) % 10    # both wrong
    s = _samples(labels, a, b)
    got = set(shown_samples(s, np.arange(1000, 1240), 240).tolist())   # 240 flagged: the whole budget
    assert len(got) == 240
    per = 240 // 12   # a quarter of the budget over one pair's three sides
    for side in (range(100, 130), range(130, 160), range(160, 170)):
        assert len(got & set(side)) == min(per, len(side))
