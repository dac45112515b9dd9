"""Every subcommand in-process (``cli.main`` with an argv, output captured): its help, its parsing,
its one-line errors with exit code 2, and its output on fixture records. No model is loaded here
but a random-init one on a 20-image folder, so this is part of ``make test-fast``."""
from __future__ import annotations

import json

import pytest

from helpers.cli import run_cli
from helpers.records import add, two_checkpoints


@pytest.mark.parametrize("args, needle", [
    (["run", "--model", "ViT-B-99", "--pretrained", "none", "--task", "cifar10"], "unknown model 'ViT-B-99'"),
    (["run", "--model", "ViT-S-32", "--pretrained", "missing.pt", "--task", "cifar10"], "checkpoint file not found: missing.pt"),
    (["run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "cifar11"], "unknown task 'cifar11'"),
    (["run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "no/such/folder"], "task path not found"),
    (["run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "cifar10", "--templates", "nope"], "unknown template set 'nope'"),
    (["run", "--model", "ViT-S-32", "--task", "cifar10", "--batch-size", "x"], "--batch-size: takes a positive whole"),
    (["run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "cifar10", "--precision", "fp16"],
     "--precision fp16 needs a CUDA device"),
    (["run", "--task", "cifar10"], "--model"),
])
def test_bad_input_is_one_line_exit_2(args, needle, tmp_path):
    out = run_cli(*args, cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert needle in lines[0] and "Traceback" not in out.stderr


def test_models_lists_baseline_and_open_clip(tmp_path):
    out = run_cli("models", "--json", cache=tmp_path, cwd=tmp_path)
    rows = json.loads(out.stdout)
    names = {(r["model"], r["pretrained"]) for r in rows}
    assert ("conse-effnetlite0-minilm", "T=10") in names and ("ViT-B-32", "laion2b_s34b_b79k") in names


def test_tasks_lists_core_tasks(tmp_path):
    out = run_cli("tasks", "--json", cache=tmp_path, cwd=tmp_path)
    assert {"cifar10", "cifar100", "imagenet"} <= {t["name"] for t in json.loads(out.stdout)}


def test_imagenet_missing_says_what_to_put_where(tmp_path):
    out = run_cli("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "imagenet",
                  "--data-dir", str(tmp_path / "data"), cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 2
    assert "imagenet/val/<wnid>/*.JPEG" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_imagenet_folder_with_wrong_class_count(tiny_folder, tmp_path):
    import shutil

    shutil.copytree(tiny_folder, tmp_path / "data" / "imagenet" / "val")
    out = run_cli("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "imagenet",
                  "--data-dir", str(tmp_path / "data"), cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 2 and "has 4 classes, expected 1000" in out.stderr


def test_probe_on_a_task_without_train_split(tiny_folder, tmp_path):
    out = run_cli("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", str(tiny_folder),
                  "--protocol", "linear-probe", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 2 and "has no training split" in out.stderr


def test_bad_shots(tmp_path):
    out = run_cli("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", "cifar10",
                  "--protocol", "few-shot", "--shots", "1,two", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 2 and "--shots: takes comma-separated whole numbers" in out.stderr


def _one_line_error(out, needle: str) -> None:
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in out.stderr, out.stderr


@pytest.fixture
def records(tmp_path):
    """A results folder of fixture records: two checkpoints on three tasks, plus a probe and few-shot."""
    out = tmp_path / "results"
    two_checkpoints(out)
    add(out, "ViT-B-32", "openai", "cifar10", 0.95, protocol="linear-probe", extra={"best_C": 1.0})
    add(out, "ViT-B-32", "openai", "cifar10", 0.9, protocol="few-shot",
        shots={"1": {"mean": 0.5, "std": 0.05}, "16": {"mean": 0.94, "std": 0.01}})
    return out


def test_every_command_has_its_help():
    from bench.commands import COMMANDS

    names = COMMANDS.names()
    assert {"run", "robustness", "predict", "sweep", "models", "tasks", "leaderboard", "compare", "plot", "report",
            "doctor", "perf"} <= set(names)
    for name in names:
        out = run_cli(name, "--help")
        assert out.returncode == 0 and f"usage: zsbench {name}" in out.stdout, (name, out.stderr)
        assert COMMANDS.get(name).description.split()[0] in " ".join(out.stdout.split())


def test_unknown_command_and_unknown_option_are_one_line(tmp_path):
    _one_line_error(run_cli("frobnicate", cwd=tmp_path), "invalid choice: 'frobnicate'")
    _one_line_error(run_cli("leaderboard", "--colour=red", cwd=tmp_path), "unrecognized arguments: --colour=red")


def test_run_protocol_must_be_registered(tmp_path):
    _one_line_error(run_cli("run", "--model", "ViT-S-32", "--task", "cifar10", "--protocol", "zero-shot",
                            cwd=tmp_path), "unknown protocol 'zero-shot' (registered: zeroshot, linear-probe")


def test_robustness_needs_a_model_and_fit_needs_records(tmp_path):
    _one_line_error(run_cli("robustness", "--suite", "digits-shift", cwd=tmp_path), "needs --model")
    _one_line_error(run_cli("robustness", "fit", "--out", tmp_path / "empty", cwd=tmp_path), "no run records")


def test_predict_errors(tmp_path, tiny_folder):
    image = next(tiny_folder.rglob("*.png"))
    _one_line_error(run_cli("predict", image, "--model", "ViT-S-32", "--pretrained", "none", cwd=tmp_path),
                    "predict needs one of --task NAME")
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    _one_line_error(run_cli("predict", tmp_path / "broken.jpg", "--model", "ViT-S-32", "--pretrained", "none",
                            "--classes", "cat,dog", cwd=tmp_path), "broken.jpg")
    _one_line_error(run_cli("predict", image, "--model", "ViT-B-99", "--classes", "a,b", cwd=tmp_path),
                    "unknown model 'ViT-B-99'")


def test_predict_prints_the_top_classes(tmp_path, tiny_folder):
    image = next(tiny_folder.rglob("*.png"))
    out = run_cli("predict", image, "--model", "ViT-S-32", "--pretrained", "none", "--classes", "red,blue,green",
                  "--json", "--top", "2", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)
    assert len(row["top"]) == 2 and {t["label"] for t in row["top"]} <= {"red", "blue", "green"}
    assert row["top"][0]["prob"] >= row["top"][1]["prob"]


def test_sweep_errors(tmp_path):
    _one_line_error(run_cli("sweep", "status", tmp_path, cwd=tmp_path), "no sweep under")
    _one_line_error(run_cli("sweep", "--task", "cifar10", "--out", tmp_path / "r", cwd=tmp_path), "needs --models")
    _one_line_error(run_cli("sweep", "--watch", tmp_path / "nowhere", "--arch", "ViT-S-32", "--task", "cifar10",
                            "--out", tmp_path / "r", cwd=tmp_path), "not a folder")
    _one_line_error(run_cli("sweep", "--time", "soon", cwd=tmp_path), "--time: takes minutes or HH:MM:SS")


def test_tasks_show_and_errors(tmp_path):
    out = run_cli("tasks", "show", "cifar10", "--cache-dir", tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0 and json.loads(out.stdout)["n_classes"] == 10
    _one_line_error(run_cli("tasks", "show", cwd=tmp_path), "needs a task name or path")
    _one_line_error(run_cli("tasks", "--suite", "nope", cwd=tmp_path), "unknown suite '@nope'")
    out = run_cli("tasks", "--suite", "offline", "--cache-dir", tmp_path / "c", "--data-dir", tmp_path / "d",
                  cwd=tmp_path)
    assert out.returncode == 0 and "cifar10" in out.stdout


def test_leaderboard_compare_plot_report_on_fixture_records(records, tmp_path):
    out = run_cli("leaderboard", "--results", records, cwd=tmp_path)
    assert out.returncode == 0 and "ViT-B-32 / openai" in out.stdout and "cifar100" in out.stdout
    probe = run_cli("leaderboard", "--protocol", "linear-probe", "--format", "json", "--results", records, cwd=tmp_path)
    assert probe.returncode == 0 and json.loads(probe.stdout)[0]["cifar10"] == pytest.approx(95.0, abs=0.5)
    out = run_cli("compare", "ViT-B-32:openai", "ViT-B-32:laion2b_s34b_b79k", "--results", records, cwd=tmp_path)
    assert out.returncode == 0 and "p Holm" in out.stdout and "of 3 task(s)" in out.stdout
    _one_line_error(run_cli("compare", "ViT-B-32:openai", "ViT-B-32:laion2b_s34b_b79k", "--protocol", "nope",
                            "--results", records, cwd=tmp_path), "unknown protocol or board 'nope'")
    out = run_cli("plot", "all", "--results", records, "--out", tmp_path / "plots", cwd=tmp_path)
    assert out.returncode == 0 and "leaderboard.png" in out.stdout and "few-shot.png" in out.stdout
    assert "skipped robustness: no records of a protocol that feeds it" in out.stdout
    out = run_cli("report", "--results", records, "--out", tmp_path / "r.html", cwd=tmp_path)
    assert out.returncode == 0 and (tmp_path / "r.html").read_text().count("<table") >= 3
    _one_line_error(run_cli("leaderboard", "--results", tmp_path / "none", cwd=tmp_path), "no run records")


def test_doctor_errors(records, tmp_path):
    _one_line_error(run_cli("doctor", tmp_path / "missing.json", cwd=tmp_path), "missing.json is not a zsbench run")
    zs = next(p for p in (records / "runs").glob("*.json") if "zeroshot" in p.name)
    _one_line_error(run_cli("doctor", zs, "--expect", "60", "--published", cwd=tmp_path),
                    "give --expect PERCENT or --published, not both")
    probe = next(p for p in (records / "runs").glob("*.json") if "linear-probe" in p.name)
    _one_line_error(run_cli("doctor", probe, cwd=tmp_path), "is a linear-probe record")


def test_perf_errors(tmp_path, monkeypatch):
    import bench.apps.perf

    _one_line_error(run_cli("perf", "--section", "nope", cwd=tmp_path), "argument --section: invalid choice")
    monkeypatch.setattr(bench.apps.perf, "clip_benchmark_available", lambda: False)
    _one_line_error(run_cli("perf", "--section", "zeroshot", cwd=tmp_path), "pip install 'zsbench[perf]'")
    # all sections by default: the zeroshot one is left out and said to be, not an error (probe only, to stay fast)
    monkeypatch.setattr(bench.apps.perf, "SECTIONS", ("zeroshot", "probe"))
    result = bench.apps.perf.run_perf(None, n=300, dim=8, classes=3)
    assert "pip install 'zsbench[perf]'" in result["skipped"]["zeroshot"] and "probe" in result


@pytest.mark.slow
def test_a_corrupt_cache_chunk_is_said_once_even_under_quiet(tmp_path):
    """A damaged cache entry is recomputed, and said (naming it) even with --quiet: the disk may be failing."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "examples" / "shapes" / "images"
    args = ("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", folder, "--templates", "single",
            "--workers", "0", "--quiet", "--no-save", "--cache-dir", tmp_path / "c")
    first = run_cli(*args, cwd=tmp_path)
    assert first.returncode == 0 and first.stderr == "", first.stderr
    (chunk,) = sorted((tmp_path / "c" / "features").rglob("chunk*.features.npy"))
    data = bytearray(chunk.read_bytes())
    data[-5] ^= 0xFF
    chunk.write_bytes(bytes(data))
    second = run_cli(*args, cwd=tmp_path)
    lines = second.stderr.strip().splitlines()
    assert second.returncode == 0 and len(lines) == 1 and str(chunk) in lines[0] and "is corrupt" in lines[0]
    assert second.stdout == first.stdout  # the same numbers after recomputing
    assert run_cli(*args, cwd=tmp_path).stderr == ""  # repaired: nothing more to say


@pytest.mark.parametrize("args, needle", [
    (["run", "--model", "ViT-B-32", "--dataset", "cifar10"], "--dataset is --task here"),
    (["run", "--model", "ViT-B-32", "--task", "cifar10", "--dataset_root", "/data", "--batch_size", "64"],
     "--dataset_root is --data-dir here; --batch_size is --batch-size here"),
    (["run", "--model", "ViT-B-32", "--task", "cifar10", "--num_workers=4"], "--num_workers is --workers here"),
    (["run", "--model", "ViT-B-32", "--pretrained", "none", "--task", "zeroshot_retrieval"],
     "'zeroshot_retrieval' is CLIP_benchmark's --task (what to evaluate); here that is --protocol retrieval"),
])
def test_clip_benchmark_spellings_get_a_hint(args, needle, tmp_path):
    _one_line_error(run_cli(*args, cwd=tmp_path), needle)


def test_clip_benchmark_result_files_are_written_and_read_back(tmp_path, tiny_folder):
    """``--format clip_benchmark`` writes CLIP_benchmark's result JSON (its keys, its file name); the
    leaderboard reads such files beside our records, as the same figures."""
    out = run_cli("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", tiny_folder, "--templates", "single",
                  "--format", "clip_benchmark", "--workers", "0", "--quiet", "--out", tmp_path / "r",
                  "--cache-dir", tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (path,) = (tmp_path / "r" / "clip_benchmark").glob("*.json")
    assert path.name == "shapes_none_ViT-S-32_en_zeroshot_classification.json"
    dump = json.loads(path.read_text())
    assert set(dump) == {"dataset", "model", "pretrained", "task", "metrics", "language"}
    assert set(dump["metrics"]) == {"acc1", "acc5", "mean_per_class_recall"} and dump["metrics"]["acc5"] is None
    (ours,) = [json.loads(p.read_text()) for p in (tmp_path / "r" / "runs").glob("*.json")]
    assert dump["metrics"]["acc1"] == ours["metrics"]["top1"]
    # a CLIP_benchmark result of another checkpoint, dropped beside ours, joins the leaderboard, as a row
    # of the clip_benchmark profile (its pipeline), apart from ours (clip)
    theirs = {**dump, "pretrained": "laion400m_e32", "metrics": {**dump["metrics"], "acc1": 0.625}}
    (tmp_path / "r" / "runs" / "cb.json").write_text(json.dumps(theirs))
    board = run_cli("leaderboard", "--format", "json", "--results", tmp_path / "r", cwd=tmp_path)
    rows = {r["model"]: r for r in json.loads(board.stdout)}
    assert rows["ViT-S-32 / laion400m_e32 [clip_benchmark]"]["shapes"] == pytest.approx(62.5)
    assert rows["ViT-S-32 / laion400m_e32 [clip_benchmark]"]["profile"] == "clip_benchmark"
    assert rows["ViT-S-32 / none [single] [clip]"]["shapes"] == pytest.approx(100 * ours["metrics"]["top1"])
