"""Hostile input and faults, as a demanding user tried them (issue 26): each held, and each keeps
holding here. Code that would run on loading must never run; a fault mid-run must leave a cache that
gives the right answer next time; every refusal is one line with exit code 2 (130 for Ctrl-C)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.core.store import HOLD_AFTER_CHUNK
from bench.engine.features import ARRAYS

from helpers.cli import REPO, run_cli
from helpers.records import add


def _one_line(out, needle: str, code: int = 2) -> None:
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert out.returncode == code and len(lines) == 1 and "Traceback" not in out.stderr, (out.returncode, out.stderr)
    assert needle in lines[0], lines[0]


class _RunsCode:
    """Unpickling this touches a marker file: what a booby-trapped checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_whose_unpickling_runs_code_is_refused(tiny_folder, tmp_path):
    marker = tmp_path / "code-ran"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": _RunsCode(marker)}, tmp_path / "evil.pt")
    out = run_cli("run", "--model", "ViT-S-32", "--pretrained", tmp_path / "evil.pt", "--task", tiny_folder,
                  "--quiet", cache=tmp_path / "c", cwd=tmp_path)
    _one_line(out, "unpickling them could run code")
    assert not marker.exists()


@pytest.mark.parametrize("model_type", ["evilclip", "clip"])
def test_a_transformers_folder_that_asks_for_its_own_code_is_refused(tiny_folder, tmp_path, model_type):
    """``auto_map`` names modelling code in the folder; without trust_remote_code it never runs, whether
    the folder claims an unknown model type or a known one."""
    folder = tmp_path / "hf"
    folder.mkdir()
    marker = tmp_path / "code-ran"
    (folder / "config.json").write_text(json.dumps({"model_type": model_type, "architectures": ["EvilModel"],
                                                    "auto_map": {"AutoModel": "modeling_evil.EvilModel",
                                                                 "AutoConfig": "modeling_evil.EvilConfig"}}))
    (folder / "modeling_evil.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).touch()\n")
    out = run_cli("run", "--model", f"transformers:{folder}", "--task", tiny_folder, "--quiet",
                  cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not marker.exists()


def test_a_decompression_bomb_is_skipped_and_named(tmp_path):
    """A 14,000 x 14,000 PNG of a few kB (196 Mpixel, over Pillow's bomb limit) is left out and named."""
    for c in ("a", "b"):
        (tmp_path / "data" / c).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (32, 32), (60 * i, 90, 0)).save(tmp_path / "data" / c / f"{i}.png")
    Image.new("1", (14000, 14000)).save(tmp_path / "data" / "a" / "bomb.png")
    assert (tmp_path / "data" / "a" / "bomb.png").stat().st_size < 100_000
    out = run_cli("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", tmp_path / "data", "--json",
                  "--workers", "0", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "skipped 1 unreadable image(s)" in out.stderr and "bomb.png" in out.stderr
    (record,) = json.loads(out.stdout)
    assert record["n_samples"] == 6


def test_hostile_names_stay_escaped_in_the_html_report(tmp_path):
    evil = '<script>alert("x")</script>'
    out = tmp_path / "results"
    add(out, evil, '<img src=x onerror="alert(1)">', "cifar10", 0.8)
    add(out, "ViT-B-32", "openai", "cifar10", 0.7)
    res = run_cli("report", "--results", out, "--out", tmp_path / "report.html", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    html = (tmp_path / "report.html").read_text()
    assert "<script>alert" not in html and "<img src=x" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize("args, needle", [
    (["--classnames", "{dir}/missing.txt"], "missing.txt: file not found"),
    (["--classnames", "{dir}/bad.json"], "is not readable JSON"),
    (["--classnames", "{dir}/three.txt"], "3 names for task"),
])
def test_bad_classnames_files_are_one_line(args, needle, tiny_folder, tmp_path):
    (tmp_path / "bad.json").write_text("[\"a\", ")
    (tmp_path / "three.txt").write_text("a\nb\nc\n")
    args = [a.format(dir=tmp_path) for a in args]
    _one_line(run_cli("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", tiny_folder, *args, "--quiet",
                      cache=tmp_path / "c", cwd=tmp_path), needle)


@pytest.mark.parametrize("rows, needle", [
    (["filepath,title", "img0.png,\"a red square\"", "nowhere.png,\"a cat\""], "nowhere.png does not exist"),
    (["filepath,title", "img0.png,\"  \""], "empty caption for img0.png"),
])
def test_bad_caption_files_are_one_line(rows, needle, tmp_path):
    Image.new("RGB", (16, 16)).save(tmp_path / "img0.png")
    (tmp_path / "captions.csv").write_text("\n".join(rows) + "\n")
    _one_line(run_cli("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", tmp_path / "captions.csv",
                      "--quiet", cache=tmp_path / "c", cwd=tmp_path), needle)


# -- faults in a real process: SIGKILL, SIGINT, two runs on one cache ----------------------------------------
N_IMAGES, CHUNK_ROWS = 48, 4  # 12 chunks of a fast forward: a kill lands mid-way


def _folder(root: Path, n: int = N_IMAGES) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        (root / f"c{i % 4}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(root / f"c{i % 4}" / f"{i}.png")
    return root


def _start(folder: Path, cache: Path, out: Path, hold: bool = False) -> subprocess.Popen:
    """``hold``: the run holds still once its first chunk is whole (bench.core.store.hold_for_fault_test), so a
    signal sent then lands mid-extraction on any machine."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "ZSBENCH_CHUNK_ROWS": str(CHUNK_ROWS)}
    env.pop(HOLD_AFTER_CHUNK, None)
    if hold:
        env[HOLD_AFTER_CHUNK] = "0"
    return subprocess.Popen([sys.executable, str(REPO / "cli.py"), "run", "--model", "ViT-S-32", "--pretrained",
                             "none", "--task", str(folder), "--templates", "single", "--batch-size", "4",
                             "--workers", "0", "--cache-dir", str(cache), "--out", str(out), "--json", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_progress(cache: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Until the run has written feature rows to its cache (it is mid-extraction)."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before it was interrupted: {proc.stderr.read()}")
        if _whole_chunks(cache):  # a whole chunk is on disk, every array of it (a kill between a chunk's
            return                # arrays leaves it unfinished, and with no other chunk the next run starts over)
        time.sleep(0.01)
    raise AssertionError("no feature rows written in time")


def _whole_chunks(cache: Path) -> list[Path]:
    """The feature chunks whose arrays (features, labels, indices) are all written: each array's
    checksum sidecar is on disk (the store writes it after the array, so it marks the array done)."""
    return [p for p in (cache / "features").rglob("*.features.npy.sha256")
            if all(p.with_name(p.name.replace(".features.", f".{name}.")).exists() for name in ARRAYS)]


def _interrupted(folder: Path, tmp_path: Path, sig: int) -> tuple[subprocess.Popen, str]:
    """A run on ``folder`` sent ``sig`` once its first feature chunk is on disk; its stderr."""
    proc = _start(folder, tmp_path / "cache", tmp_path / "out", hold=True)
    _wait_for_progress(tmp_path / "cache", proc)
    proc.send_signal(sig)
    return proc, proc.communicate(timeout=120)[1]


def _top1(stdout: str) -> float:
    return json.loads(stdout)[0]["metrics"]["top1"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """A folder of N_IMAGES images and its uninterrupted result (run in this process), for the faults to equal."""
    from bench.engine.runner import RunConfig, run

    root = tmp_path_factory.mktemp("faults")
    folder = _folder(root / "data")
    (record,) = run(RunConfig(models=[("ViT-S-32", "none")], tasks=[str(folder)], templates=["single"], batch_size=4,
                              num_workers=0, cache_dir=root / "cache", out_dir=root / "out", progress=False))
    return folder, record.metrics["top1"]


@pytest.mark.slow
def test_sigkill_mid_extraction_then_the_next_run_resumes_and_is_right(clean, tmp_path):
    folder, expected = clean
    _interrupted(folder, tmp_path, signal.SIGKILL)
    again = _start(folder, tmp_path / "cache", tmp_path / "out")
    stdout, stderr = again.communicate(timeout=600)
    assert again.returncode == 0 and "Traceback" not in stderr, stderr
    assert _top1(stdout) == expected
    assert json.loads(stdout)[0]["task_info"]["feature_cache"] == "resumed"  # the kill landed mid-extraction


@pytest.mark.slow
def test_sigint_exits_130_in_one_line_and_keeps_what_is_done(clean, tmp_path):
    folder, _ = clean
    proc, stderr = _interrupted(folder, tmp_path, signal.SIGINT)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert proc.returncode == 130 and len(lines) == 1 and "interrupted" in lines[0], stderr
    kept = _whole_chunks(tmp_path / "cache")
    assert 1 <= len(kept) < N_IMAGES // CHUNK_ROWS  # finished chunks kept (the SIGKILL test shows a next run resumes from them)


@pytest.mark.slow
def test_two_runs_share_one_cache(clean, tmp_path):
    folder, expected = clean
    runs = [_start(folder, tmp_path / "cache", tmp_path / f"out{i}") for i in range(2)]
    results = [p.communicate(timeout=600) for p in runs]
    for p, (stdout, stderr) in zip(runs, results):
        assert p.returncode == 0 and "Traceback" not in stderr, stderr
        assert _top1(stdout) == expected
