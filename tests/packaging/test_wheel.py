"""Every file the code reads at run time ships in the wheel, and works from a plain install.

The wheel is built from this checkout (no network: the build uses the setuptools already
installed), installed without ``-e`` into a fresh virtual environment that borrows only the
third-party dependencies of the test environment, and run from outside the checkout with a
command that needs each data file.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from helpers.records import add

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def tracked_data_files() -> list[str]:
    """Files under our packages that are not Python source (git's list: what a clone has)."""
    out = subprocess.run(["git", "ls-files", "bench", "prompts", "tasks"], cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    return [f for f in out.stdout.split() if not f.endswith(".py")]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(wheel path, python of a fresh venv with the wheel installed)."""
    tmp = tmp_path_factory.mktemp("wheel")
    # build from the files a clone has (git's list, as they are in the working tree), never from a
    # checkout's leftovers such as an old build/ folder
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    src = tmp / "src"
    for name in listed.stdout.split():
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp / "dist"), str(src)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp / "dist").glob("zsbench-*.whl")
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                              "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr[-2000:]
    # third-party packages come from the test environment; its .pth files (our editable install)
    # are not processed for a path added this way, so only the wheel provides our packages
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return wheel, python


def test_every_data_file_is_in_the_wheel(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    data = tracked_data_files()
    assert data, "no data files found: the check would pass vacuously"
    missing = [f for f in data if f not in names]
    assert not missing, f"data files missing from the wheel (add them to package-data): {missing}"


def test_the_installed_package_is_the_wheel_not_the_checkout(installed, tmp_path):
    _, python = installed
    where = subprocess.run([str(python), "-c", "import bench, cli; print(bench.__file__); print(cli.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout.split()
    assert all(str(REPO) not in w and "site-packages" in w for w in where), where


def _zsbench(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZSBENCH_CACHE": str(cwd / "cache"), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([str(python), "-m", "cli", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


def test_commands_that_read_each_data_file_work_from_the_wheel(installed, tmp_path):
    _, python = installed
    # prompts/data + tasks/data: class names, templates, ImageNet-R's wnid subset
    out = _zsbench(python, "tasks", "show", "imagenet-r", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["n_classes"] == 200
    out = _zsbench(python, "tasks", "show", "stanford_cars", cwd=tmp_path)
    assert out.returncode == 0 and json.loads(out.stdout)["templates"] == "stanford_cars", out.stderr
    # bench/report/data/published_openclip.csv: the published rows
    results = tmp_path / "results"
    add(results, "ViT-B-32", "openai", "cifar10", 0.80)
    out = _zsbench(python, "leaderboard", "--results", str(results), "--with-published", "--format", "json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = {r["model"]: r for r in json.loads(out.stdout)}
    assert rows["ViT-B-32 / openai (published)"]["cifar10"] == pytest.approx(89.83)  # open_clip's table
    # bench/data/robustness_baselines.json: the published fit lines on the robustness plot
    add(results, "ViT-B-32", "openai", "imagenet", 0.60)
    add(results, "ViT-B-32", "openai", "imagenet-v2", 0.52, parent="imagenet")
    out = _zsbench(python, "plot", "robustness", "--results", str(results), cwd=tmp_path)
    assert out.returncode == 0 and (results / "plots" / "robustness.png").exists(), out.stderr
