"""The docs stay true: every relative link and every repository path named in backticks in
README.md and docs/ exists, the README stays a front door (about 200 lines), and the generated
reference pages equal what the code generates now."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
#: top-level folders and files of the repository: a backticked path starting with one is a path of ours
OURS = ("bench/", "prompts/", "tasks/", "tests/", "docs/", "examples/", ".ci/", "cli.py", "Makefile",
        "pyproject.toml")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
TICKED = re.compile(r"`([^`\s]+)`")


def _prose(text: str) -> str:
    """The page without its fenced code blocks (commands there name files a user makes)."""
    return re.sub(r"```.*?```", "", text, flags=re.S)


def relative_links(page: Path) -> list[str]:
    return [t for t in LINK.findall(_prose(page.read_text(encoding="utf-8")))
            if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


def repository_paths(page: Path) -> list[str]:
    out = []
    for token in TICKED.findall(_prose(page.read_text(encoding="utf-8"))):
        path = token.split(":")[0].rstrip(".,;")  # `bench/models/base.py: ModelBackend`, `file.py:12`
        if path.startswith(OURS) and not any(c in path for c in "<>*{}$"):
            out.append(path)
    return out


def missing(page: Path) -> list[str]:
    gone = []
    for target in relative_links(page):
        if not (page.parent / target.split("#")[0]).exists():
            gone.append(f"link {target}")
    for path in repository_paths(page):
        if not (REPO / path).exists():
            gone.append(f"path {path}")
    return gone


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_and_path_exists(page):
    gone = missing(page)
    assert not gone, f"{page.relative_to(REPO)} names what does not exist: {', '.join(gone)}"


def test_the_checker_finds_a_broken_link_and_a_missing_path(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("See [the guide](nowhere.md), `bench/engine/nothing.py`, `bench/engine/runner.py: Runner` "
                    "and [ok](page.md).\n```\nzsbench run --task my/own/folder.py\n```\n")
    assert missing(page) == ["link nowhere.md", "path bench/engine/nothing.py"]


def test_the_readme_is_a_front_door():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 220, f"README.md has {len(lines)} lines: move detail into docs/"
    assert "make demo" in "\n".join(lines[:10]) and "make test" in "\n".join(lines[:10])


def test_every_guide_is_linked_from_the_readme():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    guides = [p.relative_to(REPO).as_posix() for p in sorted((REPO / "docs").glob("*.md"))]
    assert [g for g in guides if g not in readme] == []


def test_the_generated_reference_is_fresh():
    """Checked in a fresh process: the reference documents what is installed (the --protocol list included), and
    a test in this process may have registered a plug-in for a while."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                           "from bench.commands.docs import stale_pages; print(stale_pages(Path(sys.argv[1])))",
                           str(REPO / "docs" / "reference")], capture_output=True, text=True, cwd=str(REPO))
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stdout.strip() == "[]", "run `zsbench docs` and commit docs/reference/"


def test_a_stale_reference_is_caught(tmp_path):
    from bench.commands.docs import PAGES as GENERATED, stale_pages

    for name, make in GENERATED.items():
        (tmp_path / name).write_text(make())
    assert stale_pages(tmp_path) == []
    (tmp_path / "cli.md").write_text((tmp_path / "cli.md").read_text() + "\n| `--flag-that-went` | gone | |\n")
    assert stale_pages(tmp_path) == ["cli.md"]
