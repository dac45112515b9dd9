"""Webdataset tar shards in CLIP_benchmark's layout, from a folder or the Hugging Face hub.

Layout: ``ROOT/classnames.txt`` (one class per line), optional
``ROOT/zeroshot_classification_templates.txt``, and ``ROOT/<split>/*.tar`` whose members are
``KEY.{jpg,png,webp,...}`` + ``KEY.cls`` (the integer label), and in DataComp's exports of the
WILDS and fairness sets ``KEY.npy``, the sample's metadata row (region, year, income group, ...;
the column order is the task spec's ``groups.fields``). Retrieval exports (flickr30k,
mscoco_captions) carry ``KEY.txt`` instead: the image's captions, one per line (read as
CLIP_benchmark reads them, ``str.splitlines``); their samples are labelled by their index. CLIP_benchmark publishes every
dataset of its suite this way as ``clip-benchmark/wds_<name>`` on the hub, so the same reader
serves a local copy and a download. Shards are indexed once (member offsets), then images are
read by seeking, without unpacking anything.
"""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from bench.core.errors import UserError, short_reason
from tasks.sources.base import ImageSource, to_rgb
from bench.core.paths import user_path

IMAGE_EXTS = ("webp", "jpg", "jpeg", "png", "ppm", "bmp", "tif", "tiff")


def _read_lines(path: Path) -> list[str] | None:
    """One item per line, as CLIP_benchmark reads them: a blank line inside the list is an item (its
    CLEVR-distance names have an empty class), trailing blank lines are not."""
    if not path.is_file():
        return None
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _read_npy(tar: tarfile.TarFile, member: tarfile.TarInfo) -> np.ndarray:
    return np.atleast_1d(np.load(io.BytesIO(tar.extractfile(member).read()), allow_pickle=False))


def _shard_number(path: Path) -> tuple[int, str]:
    digits = "".join(c for c in path.stem if c.isdigit())
    return (int(digits) if digits else -1, path.name)


def shard_list(shard_dir: Path) -> list[Path]:
    """The split's shards in CLIP_benchmark's order: ``0.tar .. N-1.tar`` for the N in its
    ``nshards.txt`` (which CLIP_benchmark requires), else every ``*.tar`` in numeric order
    (``2.tar`` before ``10.tar``, which a plain sort would swap). Sample order decides which
    samples ``--limit`` picks and how per-sample predictions line up, so it must be the same."""
    if not shard_dir.is_dir():
        return []
    counted = shard_dir / "nshards.txt"
    if counted.is_file():
        text = counted.read_text(encoding="utf-8").strip()
        if not text.isdigit():
            raise UserError(f"{counted} should hold the number of shards, not {text[:40]!r}: fix or delete it")
        shards = [shard_dir / f"{i}.tar" for i in range(int(text))]
        missing = [p.name for p in shards if not p.is_file()]
        if missing:
            raise UserError(f"{counted} says {text} shards but {missing[0]} is missing from {shard_dir} "
                            f"({len(missing)} missing): complete the download or fix nshards.txt")
        return shards
    return sorted(shard_dir.glob("*.tar"), key=_shard_number)


class WebDatasetSource(ImageSource):
    #: a published export: its class names are taken verbatim (repeats and blanks included)
    published = True

    def __init__(self, root: Path | str, split: str):
        self.root = user_path(root)
        shard_dir = self.root / split
        shards = shard_list(shard_dir)
        if not shards:
            raise UserError(f"no webdataset shards at {shard_dir}/*.tar: use CLIP_benchmark's layout "
                            f"(ROOT/classnames.txt, ROOT/{split}/0.tar, ...)")
        self.classes = _read_lines(self.root / "classnames.txt")
        self.templates = [t for t in _read_lines(self.root / "zeroshot_classification_templates.txt") or [] if t] or None
        self.shards = shards
        self.members: list[tuple[int, int, int, str]] = []  # shard, offset, size, name
        labels: list[int] = []
        captions: list[list[str]] = []
        metadata: list[np.ndarray | None] = []
        h = hashlib.sha256()
        for s, shard in enumerate(shards):
            st = shard.stat()
            h.update(f"{shard.name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
            try:
                with tarfile.open(shard, "r:") as tar:
                    groups: dict[str, dict[str, tarfile.TarInfo]] = {}
                    for m in tar.getmembers():
                        if m.isfile():
                            key, _, ext = m.name.partition(".")
                            groups.setdefault(key, {})[ext.lower()] = m
                    for key in groups:  # tar order = write order
                        g = groups[key]
                        img = next((g[e] for e in IMAGE_EXTS if e in g), None)
                        if img is None or ("cls" not in g and "txt" not in g):
                            continue
                        if "cls" in g:
                            labels.append(int(tar.extractfile(g["cls"]).read().decode().strip()))
                        else:
                            captions.append(tar.extractfile(g["txt"]).read().decode("utf-8").splitlines())
                            labels.append(len(captions) - 1)
                        metadata.append(_read_npy(tar, g["npy"]) if "npy" in g else None)
                        self.members.append((s, img.offset_data, img.size, img.name))
            except (tarfile.TarError, OSError, ValueError) as exc:
                raise UserError(f"webdataset shard {shard} is not a readable tar archive ({short_reason(exc, 80)}); "
                                "re-download it or remove it") from None
        if not self.members:
            raise UserError(f"webdataset shards in {shard_dir} hold no (image, .cls) or (image, .txt) pairs")
        if captions and len(captions) != len(labels):
            raise UserError(f"webdataset shards in {shard_dir} mix labelled (.cls) and captioned (.txt) samples")
        self.captions = captions or None
        self.metadata = None
        if any(m is not None for m in metadata):
            if any(m is None for m in metadata) or len({m.shape for m in metadata}) != 1:
                raise UserError(f"webdataset shards in {shard_dir}: some samples lack metadata (.npy) or differ in its "
                                "length; use a complete export")
            self.metadata = np.stack(metadata).astype(np.int64)
        self.targets = np.asarray(labels, dtype=np.int64)
        self.origin = str(shard_dir)
        self.identity = "wds:" + h.hexdigest()[:32]
        if self.captions:
            self.classes = None
        self._handles: dict[int, object] = {}
        self._pid = None

    def _file(self, shard: int):
        if self._pid != os.getpid():  # DataLoader workers must not share file positions
            self._handles, self._pid = {}, os.getpid()
        if shard not in self._handles:
            self._handles[shard] = open(self.shards[shard], "rb")
        return self._handles[shard]

    def load(self, index: int) -> Image.Image:
        shard, offset, size, _ = self.members[index]
        f = self._file(shard)
        f.seek(offset)
        with Image.open(io.BytesIO(f.read(size))) as im:
            im.load()
            return to_rgb(im)

    def describe(self, index: int) -> str:
        shard, _, _, name = self.members[index]
        return f"{self.shards[shard]}:{name}"

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_handles"], state["_pid"] = {}, None
        return state


def hub_snapshot(repo_id: str, split: str, folder: Path) -> Path:
    """Download a CLIP_benchmark-style webdataset repo's split (and its class/template files)."""
    from bench.core.net import hub_offline_unless_reachable

    target = folder / repo_id.replace("/", "__")
    with hub_offline_unless_reachable():
        try:
            from huggingface_hub import snapshot_download

            snapshot_download(repo_id, repo_type="dataset", local_dir=str(target),
                              allow_patterns=[f"{split}/*", "*.txt"])
        except Exception as exc:  # offline, unknown repo, auth: all end the same way for the user
            raise UserError(f"cannot download the webdataset {repo_id} from the Hugging Face hub "
                            f"({short_reason(exc, 100)}); with no network, put its shards in {target}/{split}/") from None
    return target
