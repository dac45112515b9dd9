"""Association instances (WinoGAViL): a cue word, its candidate images, and which of them the cue
is associated with.

Read from the Hugging Face dataset ``nlphuji/winogavil`` (test split; columns ``cue``,
``candidates``, ``associations``, ``candidate_images``) as DataComp reads it, or from a JSON-lines
file with one instance per line, ``{"cue": "...", "candidates": [image paths],
"associations": [the associated subset of them]}`` (paths relative to the file). The samples of
the source are all candidate images of all instances, instance after instance, so image features
go through the same cache as every other task; ``instances`` say which samples belong together.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.core.errors import UserError, short_reason
from tasks.sources.base import AnnotatedFiles, ImageSource, json_lines, to_rgb


@dataclass(frozen=True)
class Instance:
    cue: str
    start: int            # first of its candidate images among the source's samples
    truth: tuple[bool, ...]  # per candidate: is it one of the cue's associations

    @property
    def n(self) -> int:
        return len(self.truth)


def _instances(rows: list[tuple[str, list[str], list[str]]], where: str) -> list[Instance]:
    out, start = [], 0
    for n, (cue, candidates, associations) in enumerate(rows):
        unknown = [a for a in associations if a not in candidates]
        if not str(cue).strip() or not candidates or not associations or unknown:
            raise UserError(f"{where}, instance {n}: needs a cue, candidates and a non-empty subset of them as "
                            f"associations{f' (not a candidate: {unknown[0]})' if unknown else ''}")
        out.append(Instance(str(cue), start, tuple(c in associations for c in candidates)))
        start += len(candidates)
    if not out:
        raise UserError(f"{where} holds no association instance")
    return out


class AssociationSource(ImageSource):
    """Candidate images of association instances; ``targets`` is each image's instance index."""

    instances: list[Instance]

    def _index(self, instances: list[Instance]) -> None:
        self.instances = instances
        self.targets = np.concatenate([np.full(i.n, k, dtype=np.int64) for k, i in enumerate(instances)])


class JsonlAssociations(AnnotatedFiles, AssociationSource):
    def __init__(self, file: Path):
        rows, paths = [], []
        for n, obj in json_lines(file):
            if not isinstance(obj, dict) or not isinstance(obj.get("candidates"), list):
                raise UserError(f'{file}:{n}: expected {{"cue": ..., "candidates": [...], "associations": [...]}}')
            for c in obj["candidates"]:
                p = Path(c) if Path(c).is_absolute() else file.parent / c
                if not p.is_file():
                    raise UserError(f"{file}:{n}: image file {p} does not exist; fix the path (relative to {file.name})")
                paths.append(p)
            rows.append((obj.get("cue", ""), list(obj["candidates"]), list(obj.get("associations") or [])))
        self._index(_instances(rows, str(file)))
        self.origin = str(file)
        self.identity = self._identify("assoc", file, paths)


class HFAssociations(AssociationSource):
    """``nlphuji/winogavil``: each row holds its candidate images; the last decoded row is kept,
    since samples are read in order."""

    def __init__(self, dataset: Any, origin: str):
        rows = [(r["cue"], list(r["candidates"]), list(r["associations"]))
                for r in dataset.select_columns(["cue", "candidates", "associations"])]
        self._index(_instances(rows, origin))
        self.dataset, self.origin = dataset, origin
        self.identity = "hf:" + str(getattr(dataset, "_fingerprint", origin))
        self._row: tuple[int, list] | None = None

    def load(self, index: int) -> Image.Image:
        k = int(self.targets[index])
        if self._row is None or self._row[0] != k:
            self._row = (k, self.dataset[k]["candidate_images"])
        image = self._row[1][index - self.instances[k].start]
        image.load()
        return to_rgb(image)

    def __getstate__(self):
        return {**self.__dict__, "_row": None}


def open_associations(options: dict, split: str, path: Path | None, cache_dir: Path,
                      local: Path | None = None) -> AssociationSource:
    """``path``: a JSON-lines file to read; else the hub dataset (``local``: where a file would go)."""
    if path is not None:
        return JsonlAssociations(path)
    import datasets

    from bench.core.net import hub_offline_unless_reachable

    repo = options["hf_repo"]
    datasets.logging.set_verbosity_error()
    with hub_offline_unless_reachable():
        try:
            ds = datasets.load_dataset(repo, split=split, cache_dir=str(cache_dir))
        except Exception as exc:
            where = local or "a JSON-lines file"
            raise UserError(f"Hugging Face dataset {repo} (split {split}) could not be loaded ({short_reason(exc, 120)}); "
                            f"with no network, write {where} with one instance per line: "
                            '{"cue": ..., "candidates": [image paths], "associations": [...]}') from None
    return HFAssociations(ds, origin=f"hf:{repo}[{split}]")
