"""Sweeps: many models x a suite, one job per model (or per slice of a large model's suite),
submitted through submitit (Slurm job arrays on a cluster, its local executor on one machine).

Every job is a plain ``zsbench run`` of one model on some tasks with ``skip_existing``: work that
already has a record (same model and weights, task, protocol, templates and result-changing
options: the record's ``work_key``) is not redone, and the feature cache resumes an interrupted
extraction, so rerunning a sweep does only what is missing. Jobs share the cache and the results
folder (a shared filesystem on a cluster). A job that fails writes its last error line into the
sweep's folder; the others go on. On Slurm, preemption and time limits requeue the job through
submitit's checkpointing, and the requeued job resumes from the caches.

The sweep's folder (``RESULTS/sweeps/NAME/``) holds ``plan.json`` (models, tasks, options, jobs,
cost estimates), ``jobs/<job>.json`` (state, reason, timings) and submitit's own logs.
"""
from __future__ import annotations

import json
import os
import re
import socket
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.engine.config import RunConfig
from bench.core.errors import UserError, short_reason
from bench.core.hashing import stable_hash
from bench.core.store import atomic_write_json

#: what a full results folder's message offers a sweep instead
SWEEP_ELSEWHERE = "pass --out a folder with room (records already written stay, and a rerun does only what is missing)"
from bench.core.checkpoints import checkpoint_glob
from bench.engine.protocol_registry import get_protocol
from bench.engine.work import work_keys_for
from tasks.suites import expand_task_names
from bench.core.paths import user_path

EXECUTORS = ("slurm", "local", "debug")
#: images/s assumed for a model with no measured rate (ViT-B-32 on the project's 2-core CPU: ~21;
#: scaled by parameter count where a model card knows it); a guess, and said to be one
GUESS_CPU_IMAGES_PER_S = 21.0
GUESS_GPU_SPEEDUP = 40.0
REFERENCE_PARAMS = 88_000_000


@dataclass(frozen=True)
class ModelEntry:
    model: str
    pretrained: str | None = None

    @property
    def label(self) -> str:
        return f"{self.model} {self.pretrained}" if self.pretrained else self.model


def parse_models_file(path: Path) -> list[ModelEntry]:
    """One model per line: the --model value and optionally the --pretrained value, separated by white space
    or by a comma (CLIP_benchmark's ``--pretrained_model`` files: ``model,pretrained``); ``#`` comments.
    A --pretrained value with glob characters expands to every matching checkpoint file."""
    entries: list[ModelEntry] = []
    for n, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split(",")] if "," in line else line.split()
        if len(parts) > 2 or not all(parts):
            raise UserError(f"{path}:{n}: '{line}' is not MODEL [PRETRAINED] (or CLIP_benchmark's MODEL,PRETRAINED); "
                            "fix the line")
        model, pretrained = parts[0], parts[1] if len(parts) == 2 else None
        if pretrained and any(c in pretrained for c in "*?["):
            matches = checkpoint_glob(pretrained, base=Path(path).parent)
            if not matches:
                raise UserError(f"{path}:{n}: no checkpoint matches '{pretrained}'")
            entries += [ModelEntry(model, m) for m in matches]
        else:
            entries.append(ModelEntry(model, pretrained))
    if not entries:
        raise UserError(f"{path} lists no model: one per line, MODEL [PRETRAINED]")
    return list(dict.fromkeys(entries))


def resolve_models(models: str, arch: str | None = None) -> list[ModelEntry]:
    """``--models``: a models file, one of CLIP_benchmark's collections (``@openai``), or a glob of checkpoint files
    (with ``--arch``: their model)."""
    if models.startswith("@"):
        from bench.models.collections import collection

        return [ModelEntry(m, p) for m, p in collection(models[1:])]
    path = user_path(models)
    if path.is_file() and path.suffix not in (".pt", ".pth", ".bin", ".safetensors", ".ckpt"):
        return parse_models_file(path)
    files = checkpoint_glob(models) if any(c in models for c in "*?[") else ([str(path)] if path.is_file() else [])
    if not files:
        raise UserError(f"--models {models}: neither a models file nor a glob that matches checkpoint files")
    if not arch:
        raise UserError(f"--models {models} names checkpoint files: give their architecture with --arch "
                        "(e.g. --arch ViT-B-32)")
    return [ModelEntry(arch, f) for f in files]


# -- planning and cost ----------------------------------------------------------------------------

@dataclass
class TaskCost:
    task: str
    images: int
    prompts: int


@dataclass
class Job:
    """One submitted unit: a model on some tasks."""

    name: str
    model: ModelEntry
    tasks: list[str]
    images: int
    prompts: int
    seconds: float
    estimate: str          # "measured: ..." or "guess: ..."
    task_seconds: dict[str, float] = field(default_factory=dict)


def task_costs(tasks: list[str], config: RunConfig, ctx: Any = None) -> dict[str, TaskCost]:
    """Images to encode and prompts to embed per task: the split's size where its data is on disk
    (nothing is downloaded), else the published size; --limit / --train-limit cap them."""
    from tasks.classes import resolve_templates
    from tasks.registry import get_task
    from tasks.sources import open_source

    def size(spec, split) -> tuple[int, int | None]:
        source = None
        if ctx is not None:
            try:
                source = open_source(spec, split, ctx, fetch=False)
            except UserError:
                source = None
        if source is not None:
            return len(source), len(source.classes) if source.classes else None
        return int(spec.sizes.get(split) or 0), None

    out = {}
    for name in tasks:
        spec = get_task(name)
        images, n_classes = size(spec, config.split or spec.split)
        if config.limit:
            images = min(images, config.limit) if images else config.limit
        if any(get_protocol(p).needs_train(config) for p in config.protocols) and spec.train_split:
            train, _ = size(spec, spec.train_split)
            images += min(train, config.train_limit) if config.train_limit else train
        n_templates = 0
        for override in config.templates:
            try:
                n_templates += len(resolve_templates(spec, override, None, config.prompt_choice)[0])
            except UserError:
                n_templates += 1
        out[name] = TaskCost(name, int(images), int((spec.n_classes or n_classes or 0) * n_templates))
    return out


def measured_rate(entry: ModelEntry, records: list) -> float | None:
    """Median images/s of this model's earlier extractions (from its records), if any."""
    rates = sorted(r.task_info["images_per_second"] for r in records
                   if r.model == entry.model and r.task_info.get("images_per_second")
                   and (entry.pretrained is None or r.pretrained in (entry.pretrained, str(entry.pretrained))))
    return rates[len(rates) // 2] if rates else None


def guessed_rate(entry: ModelEntry, device: str, store: Any = None) -> tuple[float, str]:
    """A labelled guess: ViT-B-32's measured CPU rate, scaled by parameter count when known."""
    params = None
    if store is not None:
        for card in Path(store.root, "models").glob("*.json") if Path(store.root, "models").is_dir() else []:
            try:
                data = json.loads(card.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if data.get("info", {}).get("n_params") and entry.model in json.dumps(data):
                params = data["info"]["n_params"]
                break
    rate = GUESS_CPU_IMAGES_PER_S * (REFERENCE_PARAMS / params if params else 1.0)
    if device.startswith("cuda"):
        rate *= GUESS_GPU_SPEEDUP
    basis = f"guess: {rate:.0f} img/s ({'scaled from' if params else 'as'} ViT-B-32's ~21 img/s on 2 CPU cores" + \
        (f", x{GUESS_GPU_SPEEDUP:g} on GPU" if device.startswith("cuda") else "") + ")"
    return rate, basis


def plan_sweep(models: list[ModelEntry], config: RunConfig, max_job_seconds: float | None = None,
               force: bool = False, store: Any = None) -> list[Job]:
    """Jobs by cost: one per model, a large model's tasks split so no job exceeds ``max_job_seconds``.
    Tasks that already have records for every protocol/template are left out (unless ``force``)."""
    from bench.engine.records import read_records_if_any, work_keys_of

    tasks = expand_task_names(config.tasks)
    records = read_records_if_any(config.out_dir)
    done_keys = work_keys_of(records)
    from bench.engine.runner import data_context

    costs = task_costs(tasks, config, data_context(config.cache_dir, config.data_dir, config.profile))
    jobs: list[Job] = []
    for entry in models:
        todo = [t for t in tasks if force or not set(work_keys_for(entry.model, entry.pretrained, t, config)) <= done_keys]
        if not todo:
            continue
        rate = measured_rate(entry, records)
        basis = f"measured: {rate:.1f} img/s in earlier records" if rate else None
        if rate is None:
            rate, basis = guessed_rate(entry, config.device, store)
        # text prompts cost about as much as an image each for CLIP-sized towers (same order of FLOPs)
        seconds = {t: (costs[t].images + costs[t].prompts) / rate for t in todo}
        groups: list[list[str]] = [[]]
        for t in todo:
            if max_job_seconds and groups[-1] and sum(seconds[x] for x in groups[-1]) + seconds[t] > max_job_seconds:
                groups.append([])
            groups[-1].append(t)
        for i, group in enumerate(groups):
            name = f"{slug(entry.label)}" + (f"-part{i + 1}" if len(groups) > 1 else "")
            jobs.append(Job(name, entry, group, sum(costs[t].images for t in group), sum(costs[t].prompts for t in group),
                            sum(seconds[t] for t in group), basis, {t: seconds[t] for t in group}))
    return jobs


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "-", text).strip("-")[:80] or "job"


# -- running a job ------------------------------------------------------------------------------

def job_status_path(sweep_dir: Path, job_name: str) -> Path:
    return Path(sweep_dir) / "jobs" / f"{job_name}.json"


def write_status(sweep_dir: Path, job: Job, state: str, **extra: Any) -> None:
    atomic_write_json(job_status_path(sweep_dir, job.name), elsewhere=SWEEP_ELSEWHERE, obj={"job": job.name, "model": job.model.model,
                                                              "pretrained": job.model.pretrained, "tasks": job.tasks,
                                                              "state": state, "time": time.time(), **extra})


def process_identity() -> dict[str, Any]:
    """Where a job runs: host and pid (a local job's liveness), and the scheduler's job id if any."""
    ident: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    try:
        import submitit

        ident["job_id"] = str(submitit.JobEnvironment().job_id)
    except Exception:  # noqa: BLE001 - not under submitit (run in-process)
        pass
    return ident


#: Slurm states (sacct) of a job that will not write its own status any more
SLURM_ENDED = {"BOOT_FAIL": "lost", "CANCELLED": "lost", "DEADLINE": "lost", "FAILED": "failed", "NODE_FAIL": "lost",
               "OUT_OF_MEMORY": "failed", "PREEMPTED": "lost", "REVOKED": "lost", "TIMEOUT": "lost"}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _slurm_state(job_id: str) -> str | None:
    """The job's state as Slurm's accounting has it (``sacct``), or None where it cannot be asked."""
    import shutil
    import subprocess

    if not shutil.which("sacct"):
        return None
    try:
        out = subprocess.run(["sacct", "-j", job_id, "--format=State", "--noheader", "--parsable2", "-X"],
                             capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    states = [line.split()[0] for line in out.splitlines() if line.strip()]
    return states[0] if states else None


def check_alive(status: dict[str, Any]) -> tuple[str, str]:
    """A job that says it is submitted or running, checked with whoever runs it: (state, reason).

    Local executor: its process on this host (a SIGKILLed job leaves no status of its own, so a
    dead process means ``lost``). Slurm: ``sacct`` (a cancelled, timed-out or node-failed job is
    ``lost``; a failed or out-of-memory one ``failed``). Otherwise the status file's word stands."""
    age = f"{(time.time() - status['time']) / 60:.0f} min ago"
    state = status["state"]
    executor = status.get("executor", "local" if "pid" in status else None)
    if status.get("host") == socket.gethostname() and "pid" in status and not _pid_alive(int(status["pid"])):
        return "lost", f"its process {status['pid']} ended without a status ({state} {age}): rerun the sweep"
    if executor == "slurm" and status.get("job_id"):
        slurm = _slurm_state(str(status["job_id"]))
        if slurm is not None and slurm.split("+")[0] in SLURM_ENDED:
            word = slurm.split("+")[0]
            return SLURM_ENDED[word], f"Slurm says {word} for job {status['job_id']} ({state} {age}): rerun the sweep"
    return "running", f"{state} {age}"


def run_job(config: RunConfig, job: Job, sweep_dir: Path) -> dict[str, Any]:
    """One job: the model on its tasks, skipping work with records; the status file says how it went."""
    from bench.engine.runner import Runner

    write_status(sweep_dir, job, "running", **process_identity())
    t0 = time.time()
    try:
        cfg = replace(config, models=[(job.model.model, job.model.pretrained)], tasks=list(job.tasks),
                      skip_existing=True, progress=False, quiet=True)
        runner = Runner(cfg)
        records = runner.run()
        runner.raise_storage_error()  # the records that fit are written; the job failed there
    except BaseException as exc:  # noqa: BLE001 - record why, then let the executor see the failure
        reason = short_reason(exc) or type(exc).__name__
        if not isinstance(exc, UserError):
            reason = f"{type(exc).__name__}: {reason}"
        write_status(sweep_dir, job, "failed", reason=reason, seconds=time.time() - t0,
                     traceback=traceback.format_exc(limit=5))
        raise
    write_status(sweep_dir, job, "done", records=len(records), skipped=runner.skipped, seconds=time.time() - t0)
    return {"job": job.name, "records": len(records)}


try:  # submitit's Checkpointable: on preemption or time-out Slurm requeues the same call
    from submitit.helpers import Checkpointable as _Checkpointable
except ImportError:  # pragma: no cover - submitit is a dependency
    _Checkpointable = object  # type: ignore[misc,assignment]


class SweepJob(_Checkpointable):
    """The callable submitit pickles for each job; requeued as is (the caches make it resume)."""

    def __call__(self, config: RunConfig, job: Job, sweep_dir: str) -> dict[str, Any]:
        return run_job(config, job, Path(sweep_dir))


# -- submitting ------------------------------------------------------------------------------------

@dataclass
class SlurmOptions:
    partition: str | None = None
    gpus_per_job: int = 1
    cpus_per_job: int = 8
    mem: str | None = None
    time_minutes: int = 240
    array_parallelism: int = 64
    extra: dict[str, str] = field(default_factory=dict)


def make_executor(kind: str, folder: Path, slurm: SlurmOptions | None = None):
    import submitit

    if kind not in EXECUTORS:
        raise UserError(f"--executor must be one of {', '.join(EXECUTORS)}, not '{kind}'")
    slurm = slurm or SlurmOptions()
    if kind == "debug":
        return submitit.DebugExecutor(folder=str(folder))
    if kind == "local":
        executor = submitit.LocalExecutor(folder=str(folder))
        executor.update_parameters(timeout_min=slurm.time_minutes)
        return executor
    try:
        executor = submitit.SlurmExecutor(folder=str(folder))
    except RuntimeError as exc:
        raise UserError(f"--executor slurm needs Slurm on this machine ({short_reason(exc)}): run the sweep from the "
                        "cluster's login node, or use --executor local") from None
    params: dict[str, Any] = {"time": slurm.time_minutes, "gpus_per_node": slurm.gpus_per_job,
                              "cpus_per_task": slurm.cpus_per_job, "ntasks_per_node": 1, "nodes": 1,
                              "array_parallelism": slurm.array_parallelism, "job_name": "zsbench-sweep"}
    if slurm.partition:
        params["partition"] = slurm.partition
    if slurm.mem:
        params["mem"] = slurm.mem
    if slurm.extra:
        params["additional_parameters"] = dict(slurm.extra)
    executor.update_parameters(**params)
    return executor


def sweep_folder(results: Path, name: str) -> Path:
    return Path(results) / "sweeps" / name


def save_plan(sweep_dir: Path, models: list[ModelEntry], config: RunConfig, jobs: list[Job], executor: str) -> None:
    atomic_write_json(Path(sweep_dir) / "plan.json", elsewhere=SWEEP_ELSEWHERE, obj={
        "models": [asdict(m) for m in models], "tasks": expand_task_names(config.tasks),
        "protocols": list(config.protocols), "templates": list(config.templates), "options": config.recorded(),
        "executor": executor, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "jobs": [asdict(j) for j in jobs]})


def submit(jobs: list[Job], config: RunConfig, sweep_dir: Path, executor_kind: str,
           slurm: SlurmOptions | None = None, executor: Any = None) -> list[Any]:
    """Submit the jobs (a Slurm job array on a cluster); returns submitit's job handles.
    ``executor``: one made beforehand with :func:`make_executor` (to fail before writing the plan)."""
    executor = executor or make_executor(executor_kind, Path(sweep_dir) / "submitit", slurm)
    fn = SweepJob()
    handles = []
    if executor_kind == "slurm":
        with executor.batch():
            for job in jobs:
                handles.append(executor.submit(fn, config, job, str(sweep_dir)))
    else:
        for job in jobs:
            handles.append(executor.submit(fn, config, job, str(sweep_dir)))
    for job, handle in zip(jobs, handles):
        write_status(sweep_dir, job, "submitted", job_id=str(handle.job_id), executor=executor_kind,
                     host=socket.gethostname())
    return handles


def wait(handles: list[Any]) -> list[str]:
    """Wait for every job; returns the failures' one-line reasons (a failure never stops the others)."""
    failures = []
    for handle in handles:
        try:
            handle.result()
        except Exception as exc:  # noqa: BLE001 - submitit re-raises the job's error here
            failures.append(f"job {handle.job_id}: {short_reason(exc, 300)}")
    return failures


def plan_id(models: list[ModelEntry], config: RunConfig) -> str:
    """A stable name for a sweep: the same command gets the same folder (and so resumes)."""
    return stable_hash([[asdict(m) for m in models], config.tasks, config.protocols, config.templates,
                        config.result_options()], length=12)


# -- status -----------------------------------------------------------------------------------------

@dataclass
class Cell:
    state: str            # done | running | failed | lost | missing
    reason: str = ""


def sweep_status(results: Path) -> tuple[list[str], list[str], dict[tuple[str, str], Cell], float, list[str]]:
    """(model labels, tasks, grid, estimated seconds left, sweep names) over every sweep under ``results``.

    A cell is done when the records hold every work key of that model and task; else failed or
    running when its newest job says so; else missing.
    """
    from bench.engine.records import read_records_if_any, work_keys_of

    folders = sorted(p.parent for p in (Path(results) / "sweeps").glob("*/plan.json"))
    if not folders:
        raise UserError(f"no sweep under {results}: start one with `zsbench sweep --models FILE --task ... --out {results}`")
    done_keys = work_keys_of(read_records_if_any(results))
    labels: list[str] = []
    tasks: list[str] = []
    grid: dict[tuple[str, str], Cell] = {}
    left = 0.0
    for folder in folders:
        plan = json.loads((folder / "plan.json").read_text())
        config = RunConfig.from_recorded(plan["options"], protocols=plan["protocols"], templates=plan["templates"])
        states = {}
        for path in sorted((folder / "jobs").glob("*.json")):
            status = json.loads(path.read_text())
            for t in status["tasks"]:
                states[(ModelEntry(status["model"], status["pretrained"]).label, t)] = status
        seconds = {(ModelEntry(**j["model"]).label, t): s for j in plan["jobs"] for t, s in j["task_seconds"].items()}
        for m in plan["models"]:
            entry = ModelEntry(**m)
            labels.append(entry.label)
            for t in plan["tasks"]:
                tasks.append(t)
                keys = set(work_keys_for(entry.model, entry.pretrained, t, config))
                if keys <= done_keys:
                    grid[(entry.label, t)] = Cell("done")
                    continue
                status = states.get((entry.label, t))
                state = status["state"] if status else "missing"
                if state in ("submitted", "running"):
                    grid[(entry.label, t)] = Cell(*check_alive(status))
                elif state == "failed":
                    grid[(entry.label, t)] = Cell("failed", status.get("reason", ""))
                else:  # "done" but the records lack it (e.g. moved), or never submitted
                    grid[(entry.label, t)] = Cell("missing")
                left += seconds.get((entry.label, t), 0.0)
    return list(dict.fromkeys(labels)), list(dict.fromkeys(tasks)), grid, left, [f.name for f in folders]


# -- watching a training run --------------------------------------------------------------------------

def ready_checkpoints(folder: Path, pattern: str, settle_seconds: float) -> list[str]:
    """Checkpoint files in ``folder`` not written to for ``settle_seconds`` (a file still being
    saved is left for the next poll)."""
    now = time.time()
    return [p for p in checkpoint_glob(str(Path(folder) / pattern)) if now - Path(p).stat().st_mtime >= settle_seconds]
