"""A user's dataset as one small TOML file (or a bare folder / manifest path), no code.

```toml
name = "my-pets"
metric = "top1"                 # or "mean_per_class_recall"
[source]
type = "imagefolder"            # imagefolder | csv | hf | torchvision | webdataset | mirror | captions
path = "images/"                # relative to this file
[prompts]
templates = "openai_imagenet"   # a set name, a file, an inline list, or a table of class -> [prompts]
classnames = { tabby = "tabby cat" }   # renames, a file, or a full list
```
Every key is checked: an unknown key or a wrong type is an error naming the file and the key.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bench.core.errors import UserError
from tasks.spec import CORE_KINDS, METRICS, SourceSpec, TaskSpec
from bench.core.paths import user_path

#: a task file's main metric by its kind where it names none (a multi-label task: CLIP_benchmark's mAP)
DEFAULT_METRICS = {"retrieval": "mean_recall@1", "multilabel": "mean_average_precision"}

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOP_KEYS = {"name": str, "description": str, "metric": str, "split": str, "train_split": str, "val_split": str,
            "n_classes": int, "parent": str, "source": dict, "prompts": dict, "kind": str}
PROMPT_KEYS = {"templates": (str, list, dict), "classnames": (str, list, dict)}
#: source type -> allowed option keys and their types; "path"-like keys are resolved against the file
SOURCE_KEYS: dict[str, dict[str, Any]] = {
    "imagefolder": {"path": str, "include": list},
    "csv": {"path": str, "classes": (str, list)},
    "hf": {"repo": str, "config": str, "splits": dict, "image_column": str, "label_column": str,
           "data_files": (str, list, dict), "data_dir": str, "revision": str, "local": bool},
    "torchvision": {"dataset": str, "splits": dict, "kwargs": dict},
    "webdataset": {"path": str, "hf_repo": str},
    "mirror": {"mirror": str, "splits": dict},
    "captions": {"path": str, "image_column": str, "caption_column": str, "separator": str},
}
PATH_KEYS = {"path", "data_dir", "data_files"}
TYPE_NAMES = {str: "a string", int: "an integer", list: "a list", dict: "a table", bool: "true/false"}


def _type_name(t) -> str:
    return " or ".join(TYPE_NAMES[x] for x in t) if isinstance(t, tuple) else TYPE_NAMES[t]


def _check(table: dict, allowed: dict, where: str, file: Path) -> None:
    for key, value in table.items():
        if key not in allowed:
            raise UserError(f"{file}: unknown key '{key}' in {where} (allowed: {', '.join(sorted(allowed))})")
        want = allowed[key]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise UserError(f"{file}: '{key}' in {where} must be {_type_name(want)}, not {type(value).__name__}")


def _resolve(value: Any, base: Path) -> Any:
    if isinstance(value, str):
        p = user_path(value)
        return str(p if p.is_absolute() else (base / p))
    if isinstance(value, list):
        return [_resolve(v, base) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, base) for k, v in value.items()}
    return value


def _maybe_file(value: Any, base: Path) -> Any:
    """A prompts value that names a file relative to the TOML becomes an absolute path."""
    if isinstance(value, str) and (base / value).is_file():
        return str(base / value)
    return value


def load_task_file(path: Path) -> TaskSpec:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read task file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path} is not valid TOML ({exc}); fix the file") from None
    _check(data, TOP_KEYS, "the top level", path)
    if "source" not in data:
        raise UserError(f"{path}: a [source] table is required (type = \"imagefolder\", path = \"images/\")")
    source = dict(data["source"])
    stype = source.pop("type", None)
    from tasks.source_registry import SOURCE_TYPES

    if not isinstance(stype, str):
        raise UserError(f"{path}: [source] needs type = \"imagefolder\" (or csv, hf, captions, webdataset, ...), "
                        f"not {stype!r}")

    if stype in SOURCE_KEYS:
        _check(source, SOURCE_KEYS[stype], f"[source] (type {stype})", path)
    elif stype not in SOURCE_TYPES:  # a plug-in's type (entry point zsbench.sources) checks its own options
        known = dict.fromkeys([*SOURCE_KEYS, *SOURCE_TYPES.names()])
        raise UserError(f"{path}: [source] type must be one of {', '.join(known)}, not {stype!r}")
    base = path.parent.resolve()
    for key in PATH_KEYS & source.keys():
        source[key] = _resolve(source[key], base)
    if stype == "csv" and isinstance(source.get("classes"), str):
        source["classes"] = _resolve(source["classes"], base)
    prompts = data.get("prompts", {})
    _check(prompts, PROMPT_KEYS, "[prompts]", path)
    kind = data.get("kind", "retrieval" if stype == "captions" else "classification")
    if not isinstance(kind, str) or not kind.strip():  # a protocol's own kind is checked by the run
        raise UserError(f"{path}: kind must be a task kind such as {', '.join(CORE_KINDS)}, not {kind!r}")
    metric = data.get("metric", DEFAULT_METRICS.get(kind, "top1"))
    if kind in CORE_KINDS and metric not in METRICS:
        raise UserError(f"{path}: metric must be one of {', '.join(METRICS)}, not '{metric}'")
    if not isinstance(metric, str) or not metric.strip():
        raise UserError(f"{path}: metric must be a metric name such as top1, not {metric!r}")
    classnames: Any = "source"
    renames: dict = {}
    raw = prompts.get("classnames")
    if isinstance(raw, dict):
        renames = raw
    elif raw is not None:
        classnames = _maybe_file(raw, base)
    split = data.get("split", "all" if stype in ("imagefolder", "csv", "captions", "multilabel_csv") else "test")
    if stype == "hf":
        source.setdefault("local", False)
    return TaskSpec(
        name=data.get("name", path.stem),
        description=data.get("description", f"task file {path}"),
        sources=(SourceSpec(stype, source),),
        classnames=classnames,
        # an export's own templates (CLIP_benchmark's and DataComp's evaluate with them), else CLIP's ImageNet set
        templates=_maybe_file(prompts.get("templates", "source" if stype == "webdataset" else "openai_imagenet"), base),
        metric=metric,
        split=split,
        train_split=data.get("train_split"),
        val_split=data.get("val_split"),
        n_classes=data.get("n_classes"),
        renames=renames,
        parent=data.get("parent"),
        kind=kind,
    )


def is_webdataset_export(folder: Path) -> bool:
    """CLIP_benchmark's export layout: ``classnames.txt`` or ``dataset_type.txt`` beside ``<split>/*.tar``."""
    has_meta = (folder / "classnames.txt").is_file() or (folder / "dataset_type.txt").is_file()
    return has_meta and any(p.is_dir() and any(p.glob("*.tar")) for p in folder.iterdir())


def url_task(url: str) -> TaskSpec:
    """A webdataset export at a URL (CLIP_benchmark's layout), as a task: mirrored on first use."""
    from tasks.sources.wds_url import base_url, export_kind

    retrieval = export_kind(url) == "retrieval"
    name = base_url(url).replace("/resolve/main", "").rstrip("/").rsplit("/", 1)[-1]
    return TaskSpec(name=name, description=f"webdataset export at {url} (CLIP_benchmark's layout)",
                    sources=(SourceSpec("webdataset", {"url": url}),),
                    classnames=None if retrieval else "source", templates=None if retrieval else "source",
                    kind="retrieval" if retrieval else "classification",
                    metric="mean_recall@1" if retrieval else "top1", split="test")


def path_task(path: Path) -> TaskSpec:
    """A folder (ImageFolder), a CSV/TSV manifest or a TOML task file, as a task."""
    path = user_path(path)
    if path.is_dir() and is_webdataset_export(path):
        retrieval = (path / "dataset_type.txt").is_file() and \
            (path / "dataset_type.txt").read_text(encoding="utf-8").strip().lower() == "retrieval"
        splits = sorted(p.name for p in path.iterdir() if p.is_dir() and list(p.glob("*.tar")))
        return TaskSpec(name=path.resolve().name, description=f"webdataset export {path} (CLIP_benchmark's layout)",
                        sources=(SourceSpec("webdataset", {"path": str(path.resolve())}),),
                        classnames=None if retrieval else "source", templates=None if retrieval else "source",
                        kind="retrieval" if retrieval else "classification",
                        metric="mean_recall@1" if retrieval else "top1",
                        split="test" if "test" in splits or not splits else splits[0])
    if path.is_dir():
        return TaskSpec(name=path.resolve().name, description=f"image folder {path}",
                        sources=(SourceSpec("imagefolder", {"path": str(path.resolve())}),),
                        classnames="source", split="all")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return load_task_file(path)
    from tasks.sources.captions import looks_like_captions

    if suffix in (".csv", ".tsv", ".jsonl") and looks_like_captions(path):
        return TaskSpec(name=path.stem, description=f"captioned images {path}", kind="retrieval",
                        sources=(SourceSpec("captions", {"path": str(path.resolve())}),), classnames=None,
                        templates=None, split="all", metric="mean_recall@1")
    if suffix in (".csv", ".tsv"):
        return TaskSpec(name=path.stem, description=f"manifest {path}",
                        sources=(SourceSpec("csv", {"path": str(path.resolve())}),), classnames="source", split="all")
    raise UserError(f"cannot make a task from {path}: give a folder, a .csv/.tsv manifest or caption file, a .jsonl "
                    "caption file, or a .toml task file")
