"""Leaderboards, comparisons, plots and the HTML report, from fixture records (no model runs)."""
from __future__ import annotations

import io
import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from bench.core.errors import UserError
from bench.engine.metrics import mcnemar_exact, paired_bootstrap_ci
from bench.report.collect import load_runs
from bench.report.compare import compare
from bench.report.html import build_report
from bench.protocols.probe import zeroshot_vs_probe
from bench.protocols.robustness import robustness_table
from bench.report.leaderboard import below_published, leaderboard, render
from bench.report.plots import make_plot
from bench.report.protocols import all_plot_kinds

#: every plot kind the built-in protocols declare
KINDS = tuple(all_plot_kinds())
#: the kinds drawn from records of one task in several languages
LANGUAGE_KINDS = ("languages", "languages-by-resource")
from helpers.cli import run_cli as zsbench
from helpers.records import add, two_checkpoints


@pytest.fixture
def results(tmp_path):
    out = tmp_path / "results"
    two_checkpoints(out)
    add(out, "ViT-B-32", "openai", "cifar10", 0.50, created="20250101T000000")  # older: must lose
    add(out, "ViT-B-32", "openai", "cifar10", 0.85, templates="single", own=False)
    add(out, "ViT-B-32", "openai", "cifar10", 0.95, protocol="linear-probe", extra={"best_C": 1.0})
    add(out, "ViT-B-32", "openai", "cifar10", 0.9, protocol="few-shot",
        shots={"1": {"mean": 0.5, "std": 0.05}, "2": {"mean": 0.7, "std": 0.04}, "4": {"mean": 0.88, "std": 0.02},
               "8": {"mean": 0.92, "std": 0.01}, "16": {"mean": 0.94, "std": 0.01}})
    add(out, "ViT-B-32", "openai", "imagenet", 0.63)
    add(out, "ViT-B-32", "openai", "imagenet-v2", 0.55, parent="imagenet")
    add(out, "ViT-B-32", "openai", "imagenet-r", 0.69, parent="imagenet")
    add(out, "RN50", "openai", "imagenet-a", 0.2, protocol="robustness", parent="imagenet",
        more={"id_top1": 0.7, "effective_robustness": 0.05})
    return out


def test_leaderboard_newest_wins_and_formats(results):
    runs = load_runs(results)
    table = leaderboard(runs)
    row = table.loc["ViT-B-32 / openai"]
    newest_cifar = runs[(runs.task == "cifar10") & (runs.protocol == "zeroshot") & (runs.pretrained == "openai") &
                        (runs.created == "20260101T000000") & runs.task_templates]
    assert len(newest_cifar) == 1 and abs(row["cifar10"] - 100 * newest_cifar.top1.iloc[0]) < 1e-9
    assert row["tasks"] == 6 and abs(row["average"] - row.drop(["average", "tasks", "profile"]).mean()) < 1e-9
    assert set(table.profile) == {"clip"}  # records from before profiles were made the clip way
    assert "ViT-B-32 / openai [single]" in table.index  # another template set: its own row
    history = leaderboard(runs, history=True)
    assert sum(i.startswith("ViT-B-32 / openai @") for i in history.index) == 2
    parsed_csv = pd.read_csv(io.StringIO(render(table, "csv")), index_col=0)
    assert np.allclose(parsed_csv.loc["ViT-B-32 / openai", "cifar100"], row["cifar100"], atol=1e-3)
    parsed_json = json.loads(render(table, "json"))
    assert {r["model"] for r in parsed_json} == set(table.index)
    md = render(table, "md").splitlines()
    assert md[0].startswith("| model") and set(md[1]) <= set("|-: ") and len(md) == len(table) + 2
    assert "<table" in render(table, "html")


def test_leaderboard_never_averages_across_profiles(tmp_path):
    from helpers.records import add

    out = tmp_path / "results"
    for task, acc in (("cifar10", 0.9), ("cifar100", 0.6)):
        add(out, "ViT-B-32", "openai", task, acc)                                           # clip (default)
        add(out, "ViT-B-32", "openai", task, acc - 0.1, extra={"profile": "datacomp"}, created="20260102T000000")
    add(out, "ViT-B-32", "openai", "mnist", 0.5, extra={"profile": "datacomp"}, created="20260102T000000")
    table = leaderboard(load_runs(out))
    assert set(table.index) == {"ViT-B-32 / openai [clip]", "ViT-B-32 / openai [datacomp]"}  # one row per profile
    clip, dc = table.loc["ViT-B-32 / openai [clip]"], table.loc["ViT-B-32 / openai [datacomp]"]
    assert clip["profile"] == "clip" and dc["profile"] == "datacomp" and dc["tasks"] == 3 and clip["tasks"] == 2
    assert abs(dc["average"] - dc[["cifar10", "cifar100", "mnist"]].astype(float).mean()) < 1e-9
    assert np.isnan(clip["average"]) and clip["cifar10"] > dc["cifar10"]  # each row its own records


def test_published_rows_and_flags(results):
    runs = load_runs(results)
    table = leaderboard(runs, with_published=True)
    assert abs(table.loc["ViT-B-32 / openai (published)", "cifar10"] - 89.83) < 1e-6
    flags = below_published(runs)
    assert any("ViT-B-32 / openai on mnist" in f and "published 48.4" in f for f in flags)  # 40 vs 48.4
    assert "QuickGELU" in flags[-1] and not any("openai on cifar100" in f for f in flags)  # 65 vs 64.2: fine


def test_zeroshot_vs_probe_and_robustness_tables(results):
    runs = load_runs(results)
    zp = zeroshot_vs_probe(runs)
    assert list(zp.task) == ["cifar10"] and zp.delta.iloc[0] < 0
    rb = robustness_table(runs)
    assert list(rb.columns[:1]) == ["imagenet (in-dist.)"] and "average gap" in rb.columns
    assert abs(rb["shift average"].iloc[1] - rb[["imagenet-r", "imagenet-v2"]].iloc[1].mean()) < 1e-9
    assert rb.loc["RN50 / openai | imagenet", "eff. robustness"] == pytest.approx(5.0)
    row = rb.loc["ViT-B-32 / openai | imagenet"]
    assert abs(row["average gap"] - (row["shift average"] - row["imagenet (in-dist.)"])) < 1e-9


def test_compare_paired(results):
    runs = load_runs(results)
    comps = {c.task: c for c in compare(runs, "ViT-B-32:openai", "ViT-B-32:laion2b_s34b_b79k", n_resamples=2000)}
    assert comps["cifar10"].verdict == "A better" and comps["mnist"].verdict == "B better"
    assert comps["cifar100"].verdict == "tie" and comps["cifar100"].ci_low < comps["cifar100"].diff < comps["cifar100"].ci_high


def test_compare_refuses_different_samples(results):
    add(results, "RN50", "openai", "cifar10", 0.7, n=300)
    with pytest.raises(UserError, match="did not see the same samples"):
        compare(load_runs(results), "RN50:openai", "ViT-B-32:laion2b_s34b_b79k")


def test_mcnemar_hand_computed():
    # 3 pairs only A right, 1 only B right: p = 2 * P(X <= 1), X ~ Bin(4, 1/2) = 2 * 5/16
    a = np.array([1, 1, 1, 0, 1, 0], bool)
    b = np.array([0, 0, 0, 1, 1, 0], bool)
    assert mcnemar_exact(a, b) == pytest.approx(10 / 16)
    assert mcnemar_exact(a, a) == 1.0


def test_bootstrap_covers_the_true_difference_at_about_the_nominal_rate():
    rng = np.random.default_rng(1)
    n, true_a, true_b, hits, trials = 500, 0.7, 0.65, 0, 300
    for t in range(trials):
        base = rng.random(n)
        a = base < true_a                         # correlated pairs, as two checkpoints on one image set
        b = np.where(rng.random(n) < 0.7, base < true_b, rng.random(n) < true_b)
        _, lo, hi = paired_bootstrap_ci(a, b, n_resamples=2000, seed=t)
        hits += lo <= true_a - true_b <= hi
    assert 0.90 <= hits / trials <= 0.985


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_every_plot_kind_renders_deterministically(kind, results, tmp_path):
    if kind == "checkpoints":  # a training run's checkpoints as records of their own
        for step, acc in ((1, 0.3), (2, 0.5), (5, 0.6)):
            add(results, "ViT-B-32", f"/runs/a/epoch_{step}.pt", "cifar10", acc)
    if kind == "reliability":  # records that keep per-sample probabilities
        for model, acc in (("ViT-B-32", 0.8), ("RN50", 0.6)):
            add(results, model, "openai", "cifar100", acc, probs=True, created="20260301T000000")
    if kind in LANGUAGE_KINDS:  # one task in several languages
        for model, base in (("ViT-B-32", 0.6), ("RN50", 0.5)):
            for i, language in enumerate(("en", "de", "zh", "om")):
                add(results, model, "openai", "babel_imagenet", base - 0.1 * i, extra={"language": language},
                    created=f"2026020{i + 1}T000000")
    runs = load_runs(results)
    first = make_plot(kind, runs, tmp_path / "a")
    second = make_plot(kind, runs, tmp_path / "b")
    assert [p.suffix for p in first] == [".png", ".svg"]
    for x, y in zip(first, second):
        assert x.read_bytes() == y.read_bytes() and x.stat().st_size > 5000


def test_plot_without_records_says_which_runs_to_make(tmp_path):
    out = tmp_path / "r"
    add(out, "ViT-B-32", "openai", "cifar10", 0.9)
    with pytest.raises(UserError, match="--protocol linear-probe"):
        make_plot("zeroshot-vs-probe", load_runs(out), tmp_path / "p")
    with pytest.raises(UserError, match="--task imagenet-v2"):
        make_plot("robustness", load_runs(out), tmp_path / "p")


@pytest.mark.slow
def test_cli_leaderboard_compare_plot_report(results, tmp_path):
    out = zsbench("leaderboard", "--results", str(results), "--format", "json", cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = {r["model"]: r for r in json.loads(out.stdout)}
    assert rows["ViT-B-32 / openai"]["cifar10"] == pytest.approx(90.0, abs=3)  # the newest record (0.90), not 0.50
    assert rows["ViT-B-32 / laion2b_s34b_b79k"]["mnist"] == pytest.approx(55.0, abs=5)
    out = zsbench("compare", "ViT-B-32:openai", "ViT-B-32:laion2b_s34b_b79k", "--results", str(results),
                  cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 0 and "significantly better on 1, worse on 1" in out.stdout
    out = zsbench("compare", "ViT-B-32:openai", "ViT-L-14", "--results", str(results), cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 2 and "no zeroshot records for 'ViT-L-14'" in out.stderr
    out = zsbench("plot", "all", "--results", str(results), cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    # every kind the fixture records allow (no training-run checkpoints among them)
    assert {p.stem for p in (results / "plots").glob("*.png")} == set(KINDS) - {"checkpoints", "reliability",
                                                                                 *LANGUAGE_KINDS}


@pytest.mark.slow
def test_html_report_in_headless_chromium(results, tmp_path):
    page = build_report(load_runs(results), tmp_path / "report.html")
    text = page.read_text()
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text  # self-contained
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); .ci/run installs it")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--allow-file-access-from-files"]
    dom = subprocess.run(flags + ["--virtual-time-budget=5000", "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    assert 'data-images-ok="true"' in dom and 'data-tables="' in dom
    assert int(dom.split('data-tables="')[1].split('"')[0]) >= 4
    shot = tmp_path / "shot.png"
    subprocess.run(flags + ["--window-size=1280,2400", f"--screenshot={shot}", page.as_uri()], capture_output=True,
                   timeout=120)
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("L"))
    assert img.shape[0] >= 2000 and (img < 200).mean() > 0.02  # text, tables and plots drew ink


@pytest.mark.slow
def test_run_with_two_models_prints_the_comparison(tiny_folder, vit_s32_checkpoint, tmp_path):
    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--model", "ViT-S-32", "--pretrained",
                  str(vit_s32_checkpoint), "--task", str(tiny_folder), "--workers", "0", "--quiet",
                  cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "p Holm" in out.stdout and "A = ViT-S-32 / none, B = ViT-S-32 / " in out.stdout


def test_averages_only_for_rows_with_every_task(tmp_path):
    from bench.report.leaderboard import missing_tasks

    out = tmp_path / "results"
    retrieval = ["flickr30k", "mscoco", "winogavil"]
    for task in (*retrieval, "cifar10"):
        add(out, "A", "x", task, 0.6)
    add(out, "B", "y", "flickr30k", 0.9)
    add(out, "B", "y", "winogavil", 0.9)
    add(out, "B", "y", "cifar10", 0.9)
    table = leaderboard(load_runs(out))
    assert table.loc["A / x", "average"] == pytest.approx(table.loc["A / x", ["cifar10", *retrieval]].mean())
    assert np.isnan(table.loc["B / y", "average"]) and table.loc["B / y", "tasks"] == 3  # incomplete: no average
    assert list(table.index) == ["A / x", "B / y"]  # rows with an average first, though B's numbers are higher
    assert table.loc["A / x", "mean retrieval"] == pytest.approx(table.loc["A / x", retrieval].mean())
    assert np.isnan(table.loc["B / y", "mean retrieval"])
    assert missing_tasks(table) == {"B / y": ["mscoco"]}
    suite = leaderboard(load_runs(out), suite="datacomp-retrieval")
    assert list(suite.columns[:3]) == retrieval and "cifar10" not in suite.columns
    assert np.isnan(suite.loc["B / y", "average"]) and suite.loc["A / x", "tasks"] == 3


@pytest.mark.slow
def test_tasks_suite_lists_the_suite_with_metrics(tmp_path):
    out = zsbench("tasks", "--suite", "datacomp-retrieval", cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = [ln.split() for ln in out.stdout.splitlines()[2:] if ln.strip()]
    assert [r[0] for r in rows] == ["flickr30k", "mscoco", "winogavil"]
    assert all("mean_recall@1" in r for r in rows[:2]) and "jaccard_score_10-12" in rows[2]


def test_compare_tests_each_tasks_own_metric_with_holm(tmp_path):
    out = tmp_path / "results"
    add(out, "A", "x", "pets", 0.80, metric="mean_per_class_recall")
    add(out, "B", "y", "pets", 0.70, metric="mean_per_class_recall")
    add(out, "A", "x", "cifar10", 0.71)
    add(out, "B", "y", "cifar10", 0.70)
    by_task = {c.task: c for c in compare(load_runs(out), "A:x", "B:y", n_resamples=2000)}
    assert by_task["pets"].metric == "mean_per_class_recall" and by_task["cifar10"].metric == "top1"
    from bench.engine.metrics import holm

    ps = [by_task[t].p_value for t in sorted(by_task)]
    assert [by_task[t].p_holm for t in sorted(by_task)] == pytest.approx(holm(ps))
    assert by_task["pets"].verdict == "A better" and by_task["cifar10"].verdict == "tie"
    right = add(out, "A", "x", "kinetics700", 0.5, metric="mean_top1_top5")
    add(out, "B", "y", "kinetics700", 0.5, metric="mean_top1_top5")
    (k,) = compare(load_runs(out), "A:x", "B:y", tasks=["kinetics700"], n_resamples=500)
    # the fixture's top-5 holds the label only when top-1 does, so the score is top-1 here
    assert k.metric == "mean_top1_top5" and k.diff == 0 and k.acc_a == pytest.approx(right.mean())


def test_compare_pairs_records_within_a_profile(tmp_path):
    from bench.core.errors import UserError
    from bench.report.compare import compare
    from helpers.records import add

    out = tmp_path / "results"
    add(out, "ViT-B-32", "openai", "cifar10", 0.9)
    add(out, "ViT-B-32", "laion2b", "cifar10", 0.8, extra={"profile": "datacomp"})
    with pytest.raises(UserError, match=r"under --profile clip and 'ViT-B-32:laion2b' under datacomp"):
        compare(load_runs(out), "ViT-B-32:openai", "ViT-B-32:laion2b")
    add(out, "ViT-B-32", "laion2b", "cifar10", 0.7, created="20260103T000000")            # clip, as A's
    add(out, "ViT-B-32", "openai", "cifar10", 0.85, extra={"profile": "datacomp"}, created="20260103T000000")
    pairs = compare(load_runs(out), "ViT-B-32:openai", "ViT-B-32:laion2b")
    assert sorted(c.task for c in pairs) == ["cifar10 [clip]", "cifar10 [datacomp]"]


def test_two_probes_of_one_model_keep_their_own_rows(tmp_path):
    """Issue 39: a probe on the whole training split and one on a 10,000-image subset are different classifiers of
    the same model; the leaderboard and the zero-shot-vs-probe view keep both (the subset probe ran last and used
    to hide the other)."""
    out = tmp_path / "r"
    add(out, "conse", "T=10", "cifar10", 0.55, templates="cifar10", created="20260101T000000")
    add(out, "conse", "T=10", "cifar10", 0.91, protocol="linear-probe", templates="-", created="20260101T000001",
        extra={"probe_features": "pre-projection"})
    add(out, "conse", "T=10", "cifar10", 0.89, protocol="linear-probe", templates="-", created="20260101T000002",
        extra={"probe_features": "pre-projection", "train_limit": 10000})
    runs = load_runs(out)
    board = leaderboard(runs, protocol="linear-probe")
    rows = {name: round(v, 1) for name, v in board["cifar10"].items()}
    assert len(rows) == 2 and sorted(rows.values()) == [round(100 * runs[runs.protocol == "linear-probe"].primary.min(), 1),
                                                       round(100 * runs[runs.protocol == "linear-probe"].primary.max(), 1)]
    assert any("train 10000" in name for name in rows) and any(name.endswith("[pre-projection]") for name in rows)
    view = zeroshot_vs_probe(runs)
    assert len(view) == 2 and set(view.probe) == {"pre-projection", "pre-projection train 10000"}


def _scored_record(out, model, probs, labels, created):
    from bench.engine.records import RunRecord, save_record
    from bench.engine.sample_scores import sample_scores

    top5 = np.argsort(-probs, axis=1, kind="stable")[:, :5].astype(np.int32)
    right = float((top5[:, 0] == labels).mean())
    rec = RunRecord(model=model, pretrained="p", task="t", split="test", protocol="zeroshot",
                    metrics={"top1": right, "primary": right}, n_samples=len(labels), templates="t", seed=0,
                    config={"metric": "top1", "task_templates": True}, versions={"zsbench": "0.1.0"},
                    task_info={"classnames": [f"c{i}" for i in range(probs.shape[1])]}, created=created)
    save_record(rec, out, {"indices": np.arange(len(labels)), "labels": labels, "top5": top5,
                           **sample_scores(probs, labels, keep_full=True)})


def test_label_issues_leave_out_a_model_far_below_the_best_and_say_so(tmp_path):
    """Issue 39: two strong models and a weak one; the flags come from the two strong models' mean (equal to
    confident learning on it by hand), the weak one is named as left out and why; --models restores it."""
    from bench.engine.label_issues import find_label_issues

    rng = np.random.default_rng(0)
    n, k = 600, 6
    labels = np.arange(n) % k
    probs = {}
    for model, strength in (("strong-a", 5.0), ("strong-b", 4.5), ("weak", 0.4)):
        logits = rng.normal(size=(n, k)) + strength * np.eye(k)[labels]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs[model] = e / e.sum(axis=1, keepdims=True)
    out = tmp_path / "r"
    for j, (model, p) in enumerate(probs.items()):
        _scored_record(out, model, p, labels, f"2026010{j + 1}T000000")
    r = zsbench("samples", out, "--task", "t", "--label-issues", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert sorted(m.split(" / ")[0] for m in got["issue_models"]) == ["strong-a", "strong-b"]
    assert any(note.startswith("left out of label issues: weak / p") and "points below the best" in note
               for note in got["notes"])
    mean = (probs["strong-a"] + probs["strong-b"]) / 2
    assert [x["index"] for x in got["issues"]] == find_label_issues(labels, mean).indices.tolist()
    every = json.loads(zsbench("samples", out, "--task", "t", "--label-issues", "--json", "--models", "strong-a",
                               "--models", "strong-b", "--models", "weak", cwd=tmp_path).stdout)
    assert len(every["issue_models"]) == 3


def test_models_naming_a_model_without_per_sample_results_is_one_line(tmp_path):
    out = tmp_path / "r"
    add(out, "A", "p", "cifar10", 0.6)
    add(out, "B", "p", "cifar10", 0.7)
    for preds in (out / "runs").glob("B__*.preds.npz"):
        preds.unlink()
    r = zsbench("samples", out, "--task", "cifar10", "--hard", "--models", "A", "--models", "B", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--models B" in r.stderr, r.stderr


def test_the_explorer_says_which_models_the_flags_come_from(tmp_path):
    """Issue 39: the explorer's task page names the models behind its label-issue flags and the ones left out."""
    from bench.report.explorer import explorer_data

    rng = np.random.default_rng(1)
    n, k = 300, 5
    labels = np.arange(n) % k
    out = tmp_path / "r"
    for j, (model, strength) in enumerate((("strong", 5.0), ("weak", 0.3))):
        logits = rng.normal(size=(n, k)) + strength * np.eye(k)[labels]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        _scored_record(out, model, e / e.sum(axis=1, keepdims=True), labels, f"2026010{j + 1}T000000")
    (payload,) = [p for p in explorer_data(load_runs(out), "t").tasks if p is not None]
    assert "label issues from strong / p" in payload["notes"]
    assert any(x.startswith("left out of label issues: weak / p") for x in payload["notes"])


def test_the_explorer_board_says_how_many_records_stand_behind_each_cell(tmp_path):
    """Issue 39: a cell shows the newest record of its classifier and says how many stand behind it."""
    from bench.report.explorer import explorer_data

    out = tmp_path / "r"
    add(out, "A", "p", "cifar10", 0.60, created="20260101T000000")
    add(out, "A", "p", "cifar10", 0.65, created="20260102T000000")   # the same classifier, run again
    add(out, "B", "p", "cifar10", 0.70, created="20260101T000000")
    board = explorer_data(load_runs(out), "t").board
    by_model = {board["models"][c[0]]["arch"]: c for c in board["cells"]}
    assert by_model["A"][6] == 2 and by_model["B"][6] == 1
    runs = load_runs(out)
    newest_a = runs[(runs.model == "A")].sort_values("created").primary.iloc[-1]
    assert by_model["A"][2] == round(100 * newest_a, 2)


def test_compare_refuses_to_pick_one_of_two_probe_variants_silently(tmp_path):
    out = tmp_path / "r"
    add(out, "A", "p", "cifar10", 0.91, protocol="linear-probe", templates="-", extra={"probe_features": "embedding"})
    add(out, "A", "p", "cifar10", 0.89, protocol="linear-probe", templates="-", created="20260101T000001",
        extra={"probe_features": "embedding", "train_limit": 10000})
    add(out, "B", "p", "cifar10", 0.80, protocol="linear-probe", templates="-", extra={"probe_features": "embedding"})
    r = zsbench("compare", "A", "B", "--protocol", "linear-probe", "--results", out, cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "2 linear-probe classifiers on cifar10 (embedding; embedding train 10000)" in r.stderr
