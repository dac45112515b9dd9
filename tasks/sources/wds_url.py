"""Webdataset exports at a URL (CLIP_benchmark's ``--dataset_root https://...``): ``--task https://host/wds_cars``,
``--task hf://datasets/clip-benchmark/wds_cars``, or a Hugging Face page URL (``.../tree/main``, read as
``.../resolve/main`` as CLIP_benchmark rewrites it).

The split's shards are fetched once into a local mirror of the export (``--wds-cache-dir``, default
``CACHE/wds-urls/<hash of the URL>``, CLIP_benchmark's ``--wds_cache_dir``) and read from there like any export
folder: the same reader, the same sample order, and a second run needs no network. Each file is written
atomically, so an interrupted fetch resumes with the shards still missing.
"""
from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

from bench.core.errors import UserError, short_reason

URL_PREFIXES = ("http://", "https://", "hf://")
#: files of an export besides its shards (the first two are optional)
EXPORT_FILES = ("classnames.txt", "zeroshot_classification_templates.txt", "dataset_type.txt")
TIMEOUT_S = 30


def is_url(text: str) -> bool:
    return str(text).startswith(URL_PREFIXES)


def base_url(url: str) -> str:
    """The URL the export's files sit under (``hf://datasets/X`` and hub page URLs as download URLs)."""
    url = url.rstrip("/")
    if url.startswith("hf://"):
        repo = url[len("hf://"):]
        repo = repo if repo.startswith("datasets/") else f"datasets/{repo}"
        return f"https://huggingface.co/{repo}/resolve/main"
    if url.startswith("https://huggingface.co/datasets/"):
        url = url.replace("/tree/main", "/resolve/main")
        return url if "/resolve/" in url else f"{url}/resolve/main"
    return url


def mirror_folder(url: str, cache: Path) -> Path:
    return cache / hashlib.sha256(base_url(url).encode()).hexdigest()[:16]


def _get(url: str) -> bytes | None:
    """The body at ``url``; None for a file the export does not have (404)."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise UserError(f"cannot fetch {url} (HTTP {exc.code}); check the URL, or download the export and give its "
                        "folder as --task") from None
    except (urllib.error.URLError, OSError) as exc:
        raise UserError(f"cannot fetch {url} ({short_reason(exc, 80)}); with no network, download the export and "
                        "give its folder as --task") from None


def _fetch(url: str, target: Path, required: bool) -> bool:
    """``target`` from ``url`` unless it is already there (atomic write); whether the file exists now."""
    from bench.core.store import atomic_write_bytes

    if target.is_file():
        return True
    body = _get(url)
    if body is None:
        if required:
            raise UserError(f"{url} not found: the export at this URL lacks it (CLIP_benchmark's layout: "
                            "classnames.txt, <split>/nshards.txt, <split>/0.tar ...)")
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, body, "pass --wds-cache-dir a folder with room")
    return True


def fetch_split(url: str, split: str, cache: Path, progress: bool = False) -> Path:
    """The local mirror of the export at ``url`` with ``split``'s shards (fetched once)."""
    from tqdm.auto import tqdm

    base, local = base_url(url), mirror_folder(url, cache)
    for name in EXPORT_FILES:
        _fetch(f"{base}/{name}", local / name, required=False)
    _fetch(f"{base}/{split}/nshards.txt", local / split / "nshards.txt", required=True)
    try:
        n = int((local / split / "nshards.txt").read_text().strip())
    except ValueError:
        raise UserError(f"{base}/{split}/nshards.txt is not a number of shards") from None
    for i in tqdm(range(n), desc=f"fetching {split} shards", unit="shard", disable=not progress, leave=False):
        _fetch(f"{base}/{split}/{i}.tar", local / split / f"{i}.tar", required=True)
    return local


def is_mirrored(local: Path, split: str) -> bool:
    """Whether ``split`` of an export is whole in its local mirror (every shard its nshards.txt counts)."""
    counted = local / split / "nshards.txt"
    try:
        n = int(counted.read_text().strip())
    except (OSError, ValueError):
        return False
    return all((local / split / f"{i}.tar").is_file() for i in range(n))


def export_kind(url: str, cache: Path | None = None) -> str:
    """``retrieval`` when the export says so (its ``dataset_type.txt``), else ``classification``: read from its
    mirror in ``cache`` (default: the cache's wds-urls/) when there is one, so a mirrored export needs no network."""
    from bench.core.paths import default_cache_dir

    local = mirror_folder(url, cache or default_cache_dir() / "wds-urls")
    if (local / "classnames.txt").is_file() or (local / "dataset_type.txt").is_file():
        body = (local / "dataset_type.txt").read_bytes() if (local / "dataset_type.txt").is_file() else None
    else:
        body = _get(f"{base_url(url)}/dataset_type.txt")
    return "retrieval" if body is not None and body.decode("utf-8", "replace").strip().lower() == "retrieval" \
        else "classification"
