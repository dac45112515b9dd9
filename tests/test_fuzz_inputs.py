"""Fuzzing the files and strings users hand zsbench (hypothesis): task TOML files, class-name and template files,
template strings, caption CSV/JSONL, path,label manifests and run records. Whatever the input, the parser either
accepts it or refuses it with a one-line ``UserError``; no other exception (a traceback) may escape.

Examples are derandomized (the same inputs on every run and machine) and the structured strategies build inputs
near the valid ones (known keys with wrong types, valid records with fields removed or retyped), where a parser
is most likely to meet what it did not expect.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.core.errors import UserError

FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

#: JSON-like values of every shape, including the ones a field never expects
values = st.recursive(st.none() | st.booleans() | st.integers(-10 ** 12, 10 ** 12)
                      | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                    max_size=4),
                      max_leaves=8)
texts = st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1"))


def _file(name: str, content: str | bytes) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="zsbench-fuzz-"))
    path = folder / name
    (path.write_bytes if isinstance(content, bytes) else lambda c: path.write_text(c, encoding="utf-8"))(content)
    return path


def _one_line(call) -> None:
    """``call()`` returns, or raises a UserError whose message is one line."""
    try:
        call()
    except UserError as exc:
        assert "\n" not in str(exc).strip(), str(exc)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and value == value and abs(value) != float("inf"):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value if not isinstance(v, dict)) + "]"
    return json.dumps(str(value))


TASK_KEYS = ["name", "kind", "metric", "classnames", "templates", "split", "description", "train_split", "n_classes"]
SOURCE_KEYS = ["type", "path", "subset", "image_column", "caption_column", "separator", "dataset", "split"]


@st.composite
def task_files(draw) -> str:
    """TOML near a task file: known keys (and stray ones) with values of any type, a [source] table or none."""
    lines = [f"{k} = {_toml_value(draw(values))}" for k in draw(st.lists(st.sampled_from(TASK_KEYS + ["x"]),
                                                                        unique=True, max_size=6))]
    if draw(st.booleans()):
        lines.append("[source]")
        kinds = st.sampled_from(["imagefolder", "manifest", "captions", "sugar_crepe", "hf", "nope"]).map(json.dumps)
        lines.append(f"type = {draw(kinds | values.map(_toml_value))}")
        lines += [f"{k} = {_toml_value(draw(values))}" for k in draw(st.lists(st.sampled_from(SOURCE_KEYS),
                                                                             unique=True, max_size=4))]
    return "\n".join(lines) + "\n"


@FUZZ
@given(task_files() | texts)
def test_task_files(text):
    from tasks.taskfile import load_task_file

    _one_line(lambda: load_task_file(_file("task.toml", text)))


@FUZZ
@given(st.sampled_from([".json", ".txt"]), values.map(json.dumps) | texts)
def test_class_name_files(suffix, text):
    from prompts.classnames import get_classnames

    _one_line(lambda: get_classnames(str(_file("classes" + suffix, text))))
    _one_line(lambda: get_classnames(str(_file("classes" + suffix, text)), dataset_key="cifar10"))


@FUZZ
@given(st.sampled_from([".json", ".txt"]), values.map(json.dumps) | texts)
def test_template_files(suffix, text):
    from prompts.templates import get_templates

    _one_line(lambda: get_templates(str(_file("templates" + suffix, text)), dataset_key="imagenet1k"))


@FUZZ
@given(st.text(max_size=60) | st.lists(st.text(max_size=30), max_size=5))
def test_template_strings_and_lists(template):
    from prompts.templates import get_templates

    _one_line(lambda: get_templates(template))


@FUZZ
@given(st.sampled_from([".csv", ".tsv", ".jsonl"]), texts | st.lists(values.map(json.dumps)).map("\n".join))
def test_caption_files(suffix, text):
    from tasks.sources.captions import read_caption_jsonl, read_caption_table

    path = _file("captions" + suffix, text)
    _one_line(lambda: read_caption_jsonl(path) if suffix == ".jsonl" else read_caption_table(path))


@FUZZ
@given(texts)
def test_manifests(text):
    from tasks.sources.manifest import read_manifest

    _one_line(lambda: read_manifest(_file("manifest.csv", text)))


@pytest.fixture(scope="module")
def a_record() -> dict:
    fixture = sorted((Path(__file__).parent / "fixtures" / "records_v2" / "runs").glob("*[0-9].json"))[0]
    return json.loads(fixture.read_text())


@st.composite
def mutated_records(draw, record: dict) -> dict:
    """A valid record with fields removed, retyped or added, at the top level and inside its sections."""
    out = json.loads(json.dumps(record))
    for _ in range(draw(st.integers(1, 4))):
        target = out
        key = draw(st.sampled_from(sorted(out)))
        if isinstance(out[key], dict) and out[key] and draw(st.booleans()):
            target, key = out[key], draw(st.sampled_from(sorted(out[key])))
        action = draw(st.sampled_from(["drop", "retype", "add"]))
        if action == "drop":
            target.pop(key, None)
        elif action == "retype":
            target[key] = draw(values)
        else:
            target[draw(st.text(max_size=8))] = draw(values)
    return out


def test_run_records(a_record):
    from bench.engine.records import read_record

    from bench.report.collect import load_runs
    from bench.report.leaderboard import leaderboard

    def tabulated(path: Path) -> None:  # read, then tabulated as every report does (a record read is used)
        read_record(path)
        leaderboard(load_runs(path.parent, strict=True))

    @FUZZ
    @given(mutated_records(a_record) | values)
    def check(data):
        text = json.dumps(data, allow_nan=True)
        _one_line(lambda: tabulated(_file("record.json", text)))

    check()
    _one_line(lambda: read_record(_file("record.json", b"\xff\xfe not json")))
