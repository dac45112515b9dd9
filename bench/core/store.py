"""Content-addressed on-disk store: atomic writes, chunked resume, integrity checks.

Everything slow (image features, classifiers, decoded dataset mirrors) is kept here under a key
that hashes *what made it* (model fingerprint, data identity, preprocessing, ...), never a
display name. Each array file has a ``.sha256`` sidecar written after it; a file whose content no
longer matches is reported, deleted and recomputed, so a crash or a bit flip costs a recompute,
never a wrong number.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

import numpy as np

from bench.core.errors import STORAGE_ERRNOS, CacheWarning, StorageFull
from bench.core.hashing import file_sha256
from bench.core.paths import default_cache_dir, user_path


def atomic_write_bytes(path: Path, data: bytes, elsewhere: str = "") -> None:
    """Write to a temp file in the same folder, fsync, then rename over the target: the target is the old file or
    the new one, never a part. A disk that takes no more (full, a quota, a size limit, read-only) is a
    :class:`StorageFull` naming the folder (``elsewhere``: the option that writes somewhere else, for its message);
    the temp file is removed."""
    path = Path(path)
    tmp = None
    try:
        with refused_writes(path.parent, elsewhere, need=len(data)):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            try:
                Path(tmp).unlink(missing_ok=True)
            except OSError:
                pass
        raise


@contextmanager
def refused_writes(folder: Path, elsewhere: str = "", need: int = 0) -> Iterator[None]:
    """Inside it, a write the disk refuses (full, a quota, a size limit, read-only: ``STORAGE_ERRNOS``) is a
    :class:`StorageFull` naming ``folder`` (``elsewhere``: the option that writes somewhere else; ``need``: the bytes
    it was writing); any other error is left as it is."""
    try:
        yield
    except OSError as exc:
        if exc.errno in STORAGE_ERRNOS:
            raise StorageFull(folder, exc, elsewhere, need=need) from None
        raise


def make_folder(path: Path, elsewhere: str = "") -> None:
    """``mkdir -p``; a disk that refuses it is a :class:`StorageFull`."""
    with refused_writes(Path(path).parent, elsewhere):
        Path(path).mkdir(parents=True, exist_ok=True)


def atomic_write_json(path: Path, obj: Any, elsewhere: str = "") -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n").encode("utf-8"),
                       elsewhere)


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def save_array(path: Path, array: np.ndarray, elsewhere: str = "") -> None:
    """Atomically save an array and then its checksum sidecar (present => array complete)."""
    data = _npy_bytes(array)
    atomic_write_bytes(path, data, elsewhere)
    atomic_write_bytes(path.with_name(path.name + ".sha256"), hashlib.sha256(data).hexdigest().encode(), elsewhere)


def load_array(path: Path) -> np.ndarray | None:
    """The array if it and its sidecar exist and agree; ``None`` (after cleaning up) otherwise."""
    side = path.with_name(path.name + ".sha256")
    if not path.exists() or not side.exists():
        return None
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != side.read_text().strip():
        warnings.warn(f"zsbench cache: {path} is corrupt (checksum mismatch); deleting and recomputing it (if this "
                      "repeats, check the disk under the cache)", CacheWarning)
        path.unlink(missing_ok=True)
        side.unlink(missing_ok=True)
        return None
    return np.load(io.BytesIO(data), allow_pickle=False)


def verify_array(path: Path) -> bool:
    """Whether an array file and its sidecar exist and agree, hashing the file in blocks (for
    files that are then memory-mapped rather than read whole); cleans up a corrupt pair."""
    side = path.with_name(path.name + ".sha256")
    if not path.exists() or not side.exists():
        return False
    if file_sha256(path) != side.read_text().strip():
        warnings.warn(f"zsbench cache: {path} is corrupt (checksum mismatch); deleting and recomputing it (if this "
                      "repeats, check the disk under the cache)", CacheWarning)
        path.unlink(missing_ok=True)
        side.unlink(missing_ok=True)
        return False
    return True


#: what a full cache's message offers instead
CACHE_ELSEWHERE = "pass --cache-dir (or set ZSBENCH_CACHE) to a folder with room; what is cached so far is kept"


class Store:
    """One cache root with named areas (``features/``, ``classifiers/``, ``models/``, ``data/``). A write the disk
    refuses is a :class:`StorageFull` that says to move the cache."""

    def __init__(self, root: Path | str | None = None):
        self.root = user_path(root) if root is not None else default_cache_dir()

    def area(self, name: str) -> Path:
        path = self.root / name
        make_folder(path, CACHE_ELSEWHERE)
        return path

    # -- single arrays (classifiers, small results) ---------------------------------------
    def get(self, area: str, key: str) -> np.ndarray | None:
        return load_array(self.area(area) / f"{key}.npy")

    def put(self, area: str, key: str, array: np.ndarray, meta: dict | None = None) -> None:
        save_array(self.area(area) / f"{key}.npy", array, CACHE_ELSEWHERE)
        if meta is not None:
            atomic_write_json(self.area(area) / f"{key}.json", meta, CACHE_ELSEWHERE)

    # -- small JSON documents (model cards) -------------------------------------------------
    def get_json(self, area: str, key: str) -> dict | None:
        """The stored document, or ``None`` when absent or unreadable (then it is rebuilt)."""
        try:
            return json.loads((self.area(area) / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def put_json(self, area: str, key: str, obj: dict) -> None:
        atomic_write_json(self.area(area) / f"{key}.json", obj, CACHE_ELSEWHERE)

    def drop_json(self, area: str, key: str) -> None:
        (self.area(area) / f"{key}.json").unlink(missing_ok=True)

    # -- chunked arrays (features: resumable) ---------------------------------------------
    def chunked(self, area: str, key: str, meta: dict) -> "ChunkedEntry":
        return ChunkedEntry(self.area(area) / key, meta)


class ChunkedEntry:
    """A folder of numbered chunks, each a dict of arrays, plus ``meta.json`` once complete.

    Chunks are independent files, so an interrupted extraction keeps every finished chunk and
    the next run computes only the missing ones.
    """

    def __init__(self, folder: Path, meta: dict):
        self.folder = folder
        self.meta = meta

    def path(self, index: int, name: str) -> Path:
        return self.folder / f"chunk{index:05d}.{name}.npy"

    def load_chunk(self, index: int, names: Iterable[str], verify_only: Iterable[str] = ()) -> dict[str, np.ndarray] | None:
        """The named arrays of one chunk; ``verify_only`` arrays are checked but not loaded (they
        are read later, memory-mapped, from :meth:`path`). ``None`` if any is missing or corrupt."""
        for name in verify_only:
            if not verify_array(self.path(index, name)):
                return None
        out = {}
        for name in names:
            arr = load_array(self.path(index, name))
            if arr is None:
                return None
            out[name] = arr
        return out

    def save_chunk(self, index: int, arrays: dict[str, np.ndarray]) -> None:
        make_folder(self.folder, CACHE_ELSEWHERE)
        atomic_write_json(self.folder / "meta.partial.json", self.meta, CACHE_ELSEWHERE)
        for name, arr in arrays.items():
            save_array(self.path(index, name), arr, CACHE_ELSEWHERE)
        hold_for_fault_test(index)

    def is_complete(self) -> bool:
        return (self.folder / "meta.json").exists()

    def mark_complete(self, extra: dict) -> None:
        atomic_write_json(self.folder / "meta.json", {**self.meta, **extra}, CACHE_ELSEWHERE)
        (self.folder / "meta.partial.json").unlink(missing_ok=True)

    def unmark_complete(self) -> None:
        (self.folder / "meta.json").unlink(missing_ok=True)

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def cached_file_hash(path: Path, store: "Store | None" = None) -> str:
    """sha256 of a (large) file, remembered per (path, size, mtime) so it is read once."""
    path = Path(path).resolve()
    st = path.stat()
    index_path = (store or Store()).area("hashes") / "files.json"
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    try:
        index = json.loads(index_path.read_text())
    except (OSError, json.JSONDecodeError):
        index = {}
    if key not in index:
        index[key] = file_sha256(path)
        atomic_write_json(index_path, index, CACHE_ELSEWHERE)
    return index[key]


#: fault injection for the kill, interrupt and cancel tests (tests/commands/test_hostile_input.py,
#: tests/apps/test_sweep.py): the chunk index after which a run holds still
HOLD_AFTER_CHUNK = "ZSBENCH_TEST_HOLD_AFTER_CHUNK"


def hold_for_fault_test(index: int) -> None:
    """With ``ZSBENCH_TEST_HOLD_AFTER_CHUNK=N``, hold the process once chunk N is whole (every array and its
    checksum written) until a signal ends it, at most 10 minutes. A fault test then signals a run that is
    certainly mid-extraction, however fast the forward or slow the machine: without the hold, a run on a
    busy machine could finish between the test seeing chunk N and the signal arriving."""
    at = os.environ.get(HOLD_AFTER_CHUNK)
    if at is None or at.strip() != str(index):
        return
    import time

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(0.02)

