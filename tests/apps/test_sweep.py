"""Sweeps through submitit: its local and debug executors run real jobs here, and the Slurm path
runs up to ``sbatch`` (a stand-in on PATH records the submission script submitit writes)."""
from __future__ import annotations

import json
import os
import shutil
import stat
import time
from pathlib import Path

import pytest
import torch

from bench.engine.config import RunConfig
from bench.core.errors import UserError
from helpers.cli import run_cli, zsbench

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    import open_clip

    folder = tmp_path_factory.mktemp("ckpts")
    for i in (1, 2):
        torch.manual_seed(i)
        torch.save(open_clip.create_model("ViT-S-32", pretrained=None).state_dict(), folder / f"epoch_{i}.pt")
    return folder


@pytest.fixture
def two_tasks(tmp_path):
    example = Path(__file__).resolve().parents[2] / "examples" / "shapes" / "images"
    for name in ("shapesA", "shapesB"):
        shutil.copytree(example, tmp_path / name)
    return [str(tmp_path / "shapesA"), str(tmp_path / "shapesB")]


def test_models_file_lines_comments_and_globs(tmp_path, checkpoints):
    from bench.apps.sweep import ModelEntry, parse_models_file, resolve_models

    f = tmp_path / "models.txt"
    f.write_text("# a comment\nViT-B-32 laion2b_s34b_b79k\n\ntransformers:openai/clip-vit-base-patch32  # inline\n"
                 f"ViT-S-32 {checkpoints}/epoch_*.pt\n")
    assert parse_models_file(f) == [ModelEntry("ViT-B-32", "laion2b_s34b_b79k"),
                                    ModelEntry("transformers:openai/clip-vit-base-patch32"),
                                    ModelEntry("ViT-S-32", f"{checkpoints}/epoch_1.pt"),
                                    ModelEntry("ViT-S-32", f"{checkpoints}/epoch_2.pt")]
    assert [e.pretrained for e in resolve_models(f"{checkpoints}/epoch_*.pt", "ViT-S-32")] == \
        [f"{checkpoints}/epoch_1.pt", f"{checkpoints}/epoch_2.pt"]
    f.write_text("ViT-B-32 openai extra\n")
    with pytest.raises(UserError, match="models.txt:1"):
        parse_models_file(f)
    with pytest.raises(UserError, match="--arch"):
        resolve_models(f"{checkpoints}/epoch_*.pt", None)


def test_clip_benchmark_model_files_read_as_clip_benchmark_reads_them(tmp_path):
    """CLIP_benchmark's --pretrained_model files hold ``model,pretrained`` per line (its
    get_model_collection_from_file); the same file gives the same pairs here."""
    from clip_benchmark.model_collection import get_model_collection_from_file

    from bench.apps.sweep import ModelEntry, parse_models_file

    f = tmp_path / "models.txt"
    f.write_text("ViT-B-32-quickgelu,laion400m_e32\nViT-B-32,openai\nxlm-roberta-base-ViT-B-32,laion5b_s13b_b90k\n")
    theirs = [ModelEntry(m, p) for m, p in get_model_collection_from_file(str(f))]
    assert parse_models_file(f) == theirs and len(theirs) == 3
    f.write_text("ViT-B-32,openai,extra\n")
    with pytest.raises(UserError, match="models.txt:1: 'ViT-B-32,openai,extra' is not MODEL"):
        parse_models_file(f)


def test_a_broken_model_fails_alone_and_a_rerun_does_only_what_is_missing(tmp_path, checkpoints, two_tasks):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    models = tmp_path / "models.txt"
    models.write_text(f"ViT-S-32 {checkpoints}/epoch_1.pt\nViT-S-32 {checkpoints}/epoch_2.pt\nViT-S-32 {broken}\n")
    args = ["sweep", "--models", str(models), "--task", two_tasks[0], "--task", two_tasks[1], "--out",
            str(tmp_path / "res"), "--executor", "debug", "--workers", "0"]  # in-process jobs (local: below)
    out = run_cli(*args, cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    status = run_cli("sweep", "status", str(tmp_path / "res"), cache=tmp_path / "c", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert "4 done, 0 running, 2 failed, 0 lost, 0 missing of 6" in status.stdout
    failed = [ln for ln in status.stdout.splitlines() if ln.startswith("failed:")]
    assert len(failed) == 1 and str(broken) in failed[0] and "does not load into ViT-S-32" in failed[0]
    runs = tmp_path / "res" / "runs"
    before = {p.name: p.stat().st_mtime_ns for p in runs.glob("*.json")}
    assert len(before) == 4
    shutil.copy(checkpoints / "epoch_1.pt", broken)  # the fix
    dry = run_cli(*args, "--dry-run", cache=tmp_path / "c", cwd=tmp_path)
    assert dry.returncode == 0 and "-> 1 job(s)" in dry.stdout and "measured:" not in dry.stdout.split("broken")[0]
    out = run_cli(*args, cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    after = {p.name: p.stat().st_mtime_ns for p in runs.glob("*.json")}
    assert len(after) == 6 and all(after[k] == v for k, v in before.items())  # nothing redone
    assert "6 done, 0 running, 0 failed, 0 lost, 0 missing of 6" in out.stdout
    again = run_cli(*args, "--dry-run", cache=tmp_path / "c", cwd=tmp_path)
    assert "-> 0 job(s)" in again.stdout and "nothing left to do" in again.stdout


def test_killing_a_job_mid_extraction_loses_nothing(tmp_path, monkeypatch):
    """240 of digits' images (scikit-learn's own copy) in chunks of 16 rows: cancel the job after the first."""
    from bench.apps import sweep as sw

    from bench.core.store import HOLD_AFTER_CHUNK

    monkeypatch.setenv("ZSBENCH_CHUNK_ROWS", "16")  # the job's process and the in-process rerun alike
    monkeypatch.setenv(HOLD_AFTER_CHUNK, "0")  # the job holds still once chunk 0 is whole: cancelled mid-extraction
    config = RunConfig(tasks=["digits"], out_dir=tmp_path / "res", cache_dir=tmp_path / "c", num_workers=0,
                       skip_existing=True, limit=240, templates=["single"])
    job = sw.plan_sweep([sw.ModelEntry("ViT-S-32", "none")], config)[0]
    sweep_dir = sw.sweep_folder(config.out_dir, "kill")
    (handle,) = sw.submit([job], config, sweep_dir, "local")
    deadline = time.time() + 300
    # a chunk's arrays are saved features, labels, indices: the last one's checksum means chunk 0 is whole
    while not list((tmp_path / "c" / "features").glob("*/chunk00000.indices.npy.sha256")):
        assert time.time() < deadline and handle.state not in ("DONE", "FAILED"), "the first chunk never appeared"
        time.sleep(0.05)  # the forward is fast: cancel before the job's last chunk
    handle.cancel()
    while handle.state not in ("DONE", "FAILED", "INTERRUPTED", "CANCELLED", "UNKNOWN") and time.time() < deadline:
        time.sleep(0.5)
    assert not list((tmp_path / "res" / "runs").glob("*.json")) if (tmp_path / "res" / "runs").exists() else True
    monkeypatch.delenv(HOLD_AFTER_CHUNK)
    result = sw.run_job(config, job, sweep_dir)  # the rerun (here in-process)
    assert result["records"] == 1
    (rec,) = [json.loads(p.read_text()) for p in (tmp_path / "res" / "runs").glob("*.json")]
    assert rec["task_info"]["feature_cache"] == "resumed" and rec["n_samples"] == 240


def test_watch_evaluates_each_new_checkpoint_once_and_plots_the_curve(tmp_path, checkpoints, two_tasks):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(checkpoints / "epoch_1.pt", run_dir / "epoch_1.pt")
    args = ["sweep", "--watch", str(run_dir), "--arch", "ViT-S-32", "--pattern", "epoch_*.pt", "--settle", "0",
            "--watch-timeout", "0", "--task", two_tasks[0], "--out", str(tmp_path / "res"), "--executor", "debug",
            "--workers", "0"]
    out = zsbench(*args, cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "1 new checkpoint(s): epoch_1.pt" in out.stdout
    shutil.copy(checkpoints / "epoch_2.pt", run_dir / "epoch_2.pt")
    out = zsbench(*args, cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "-> 1 job" not in out.stdout and len(list((tmp_path / "res" / "runs").glob("*.json"))) == 2
    plot = zsbench("plot", "checkpoints", "--results", str(tmp_path / "res"), cache=tmp_path / "c", cwd=tmp_path)
    assert plot.returncode == 0 and (tmp_path / "res" / "plots" / "checkpoints.png").exists(), plot.stderr


def test_a_large_model_is_split_into_several_jobs_by_cost(tmp_path):
    from bench.apps import sweep as sw

    config = RunConfig(tasks=["cifar10", "cifar100", "mnist", "stl10"], out_dir=tmp_path / "res",
                       cache_dir=tmp_path / "c")
    entry = sw.ModelEntry("ViT-S-32", "none")
    (whole,) = sw.plan_sweep([entry], config)
    assert whole.images == 10000 + 10000 + 10000 + 8000 and whole.estimate.startswith("guess")
    parts = sw.plan_sweep([entry], config, max_job_seconds=whole.seconds / 3)
    assert len(parts) >= 3 and sorted(t for p in parts for t in p.tasks) == sorted(config.tasks)
    assert all(p.seconds <= whole.seconds / 3 or len(p.tasks) == 1 for p in parts)


def test_the_slurm_path_through_submitit_up_to_sbatch(tmp_path, checkpoints, two_tasks):
    """A stand-in sbatch records the script submitit writes; every Slurm option must be in it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "sbatch.log"
    fake = bin_dir / "sbatch"
    fake.write_text(f"#!/bin/sh\ncat \"$@\" >> {log}\necho 'Submitted batch job 4242'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    srun = bin_dir / "srun"  # submitit checks that Slurm is there
    srun.write_text("#!/bin/sh\nexit 0\n")
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    models = tmp_path / "models.txt"
    models.write_text(f"ViT-S-32 {checkpoints}/epoch_1.pt\nViT-S-32 {checkpoints}/epoch_2.pt\n")
    env_path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[2] / "cli.py"), "sweep", "--models",
                          str(models), "--task", two_tasks[0], "--out", str(tmp_path / "res"), "--executor", "slurm",
                          "--no-wait", "--partition", "gpu", "--gpus-per-job", "2", "--cpus-per-job", "10", "--mem",
                          "64G", "--time", "01:30:00", "--array-parallelism", "1", "--slurm-extra", "account=myproj",
                          "--slurm-extra", "qos=high"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300,
                         env={**os.environ, "PATH": env_path, "ZSBENCH_CACHE": str(tmp_path / "c")})
    assert out.returncode == 0, out.stderr
    script = log.read_text()
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=2", "#SBATCH --cpus-per-task=10",
                 "#SBATCH --mem=64G", "#SBATCH --time=90", "#SBATCH --array=0-1%1", "#SBATCH --account=myproj",
                 "#SBATCH --qos=high", "#SBATCH --signal=USR2@90"):
        assert line in script, f"{line} missing from the submission script:\n{script}"
    status = zsbench("sweep", "status", str(tmp_path / "res"), cache=tmp_path / "c", cwd=tmp_path)
    assert "0 done, 2 running" in status.stdout


def test_slurm_without_slurm_is_one_line(tmp_path, checkpoints, two_tasks):
    models = tmp_path / "models.txt"
    models.write_text(f"ViT-S-32 {checkpoints}/epoch_1.pt\n")
    env_path = os.environ["PATH"]
    if shutil.which("srun"):
        pytest.skip("this machine has Slurm")
    out = zsbench("sweep", "--models", str(models), "--task", two_tasks[0], "--out", str(tmp_path / "res"),
                  "--executor", "slurm", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 2 and "--executor local" in out.stderr and out.stderr.count("\n") == 1, env_path
    assert not (tmp_path / "res" / "sweeps").exists()  # nothing half-written


def test_debug_executor_runs_a_job_in_process(tmp_path, two_tasks):
    from bench.apps import sweep as sw

    config = RunConfig(tasks=[two_tasks[0]], out_dir=tmp_path / "res", cache_dir=tmp_path / "c", num_workers=0)
    jobs = sw.plan_sweep([sw.ModelEntry("ViT-S-32", "none")], config)
    handles = sw.submit(jobs, config, sw.sweep_folder(config.out_dir, "dbg"), "debug")
    assert sw.wait(handles) == [] and len(list((tmp_path / "res" / "runs").glob("*.json"))) == 1


def _wait_for(condition, seconds: float = 300.0, what: str = "") -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_no_wait_returns_at_once_with_the_local_executor_and_the_jobs_go_on(tmp_path, two_tasks):
    args = ["sweep", "--models", str(tmp_path / "models.txt"), "--task", two_tasks[0], "--out", str(tmp_path / "res"),
            "--executor", "local", "--no-wait", "--workers", "0"]
    import subprocess
    import sys

    from helpers.cli import REPO

    (tmp_path / "models.txt").write_text("ViT-S-32 none\n")
    # the jobs inherit the console: read the command's output from files, so its own exit is what is waited for
    with open(tmp_path / "out.txt", "w") as out, open(tmp_path / "err.txt", "w") as err:
        code = subprocess.run([sys.executable, str(REPO / "cli.py"), *args], stdout=out, stderr=err, cwd=tmp_path,
                              env={**os.environ, "ZSBENCH_CACHE": str(tmp_path / "c")}, timeout=300).returncode
    assert code == 0 and "follow it with: zsbench sweep status" in (tmp_path / "out.txt").read_text(), \
        (tmp_path / "err.txt").read_text()
    (status,) = [json.loads(p.read_text()) for p in (tmp_path / "res" / "sweeps").glob("*/jobs/*.json")]
    assert status["state"] in ("submitted", "running")  # returned before the job was done
    _wait_for(lambda: list((tmp_path / "res" / "runs").glob("*.json")), what="the job's record")
    _wait_for(lambda: "1 done" in zsbench("sweep", "status", str(tmp_path / "res"), cache=tmp_path / "c",
                                          cwd=tmp_path).stdout, what="sweep status to say done")


def test_a_job_killed_without_a_word_is_reported_lost(tmp_path):
    """SIGKILL leaves no status of its own: `sweep status` asks whether the job's process is alive."""
    import signal

    from bench.apps import sweep as sw

    config = RunConfig(tasks=["digits"], out_dir=tmp_path / "res", cache_dir=tmp_path / "c", num_workers=0,
                       skip_existing=True)
    job = sw.plan_sweep([sw.ModelEntry("ViT-S-32", "none")], config)[0]
    sweep_dir = sw.sweep_folder(config.out_dir, "lost")
    sw.save_plan(sweep_dir, [job.model], config, [job], "local")
    (handle,) = sw.submit([job], config, sweep_dir, "local")
    status_file = sw.job_status_path(sweep_dir, job.name)
    _wait_for(lambda: json.loads(status_file.read_text())["state"] == "running", what="the job to start")
    labels, tasks, grid, _, _ = sw.sweep_status(config.out_dir)
    assert grid[(labels[0], "digits")].state == "running"
    os.kill(json.loads(status_file.read_text())["pid"], signal.SIGKILL)
    _wait_for(lambda: handle.state not in ("RUNNING", "PENDING"), seconds=60, what="submitit to see the kill")
    assert json.loads(status_file.read_text())["state"] == "running"  # the job could not say anything
    labels, tasks, grid, _, _ = sw.sweep_status(config.out_dir)
    cell = grid[(labels[0], "digits")]
    assert cell.state == "lost" and "ended without a status" in cell.reason


def test_a_slurm_job_that_sacct_calls_cancelled_is_lost(tmp_path, monkeypatch):
    from bench.apps import sweep as sw

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sacct").write_text("#!/bin/sh\necho 'NODE_FAIL'\n")
    (bin_dir / "sacct").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    status = {"state": "running", "time": time.time() - 120, "executor": "slurm", "job_id": "4242", "host": "node17"}
    state, reason = sw.check_alive(status)
    assert state == "lost" and "Slurm says NODE_FAIL for job 4242" in reason
    (bin_dir / "sacct").write_text("#!/bin/sh\necho 'RUNNING'\n")
    assert sw.check_alive(status)[0] == "running"
