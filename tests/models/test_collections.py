"""Model lists as CLIP_benchmark 1.6.2 takes them: its collections (``--model @openai``), ``--pretrained-model``
values (``model,pretrained``, a collection name, a file of such lines), and its model x pretrained product
(``--all-pairs``), each equal to what its own code makes of the same input."""
from __future__ import annotations

import argparse
from itertools import product

import pytest

from bench.core.errors import UserError
from bench.engine.config import add_run_options, config_from_args
from helpers.cli import run_cli


def _models(*argv: str):
    parser = argparse.ArgumentParser()
    add_run_options(parser)
    return config_from_args(parser.parse_args([*argv, "--task", "cifar10"])).models


def test_collections_are_clip_benchmarks():
    import open_clip
    from clip_benchmark.model_collection import model_collection

    from bench.models.collections import NAMES, collection

    assert set(NAMES) == set(model_collection)
    for name in NAMES:
        assert collection(name) == [tuple(p) for p in model_collection[name]], name
    assert collection("openclip_all") == [tuple(p) for p in open_clip.list_pretrained()]


def test_model_lists_mean_what_clip_benchmark_makes_of_them(tmp_path):
    from clip_benchmark.model_collection import get_model_collection_from_file, model_collection

    assert _models("--model", "@openai") == [tuple(p) for p in model_collection["openai"]]
    assert _models("--model", "RN50", "--pretrained", "openai", "--model", "@openai")[0] == ("RN50", "openai")
    # --pretrained-model: "model,pretrained", a collection, a file (CLIP_benchmark's cli.main_eval)
    f = tmp_path / "models.txt"
    f.write_text("ViT-B-32-quickgelu,laion400m_e32\nViT-B-16,laion400m_e32\n")
    theirs = [tuple(p) for p in get_model_collection_from_file(str(f))]
    assert _models("--pretrained-model", str(f)) == theirs
    assert _models("--pretrained-model", "ViT-B-32,openai", "--pretrained-model", "openclip_multilingual") == \
        [("ViT-B-32", "openai"), *[tuple(p) for p in model_collection["openclip_multilingual"]]]
    # without --pretrained_model CLIP_benchmark evaluates product(model, pretrained): --all-pairs
    models, tags = ["ViT-B-32", "ViT-B-16"], ["openai", "laion400m_e32", "laion2b_s34b_b79k"]
    argv = [a for m in models for a in ("--model", m)] + [a for t in tags for a in ("--pretrained", t)]
    assert _models(*argv, "--all-pairs") == list(product(models, tags))
    with pytest.raises(UserError, match="3 --pretrained values for 2 --model flags"):
        _models(*argv)


@pytest.mark.parametrize("argv, needle", [
    (["--pretrained-model", "ViT-B-32"], "'ViT-B-32' is not 'model,pretrained'"),
    (["--model", "@openclip"], "unknown model collection '@openclip'"),
    (["--model", "ViT-B-32", "--pretrained-model", "ViT-B-32,openai"], "not allowed with argument --model"),
    ([], "one of the arguments --model --pretrained-model is required"),
])
def test_bad_model_lists_are_one_line(argv, needle, tmp_path):
    out = run_cli("run", *argv, "--task", "cifar10", "--no-save", cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0], out.stderr


def test_sweep_takes_a_collection():
    from bench.apps.sweep import ModelEntry, resolve_models

    assert resolve_models("@openai")[0] == ModelEntry("ViT-B-32", "openai") and len(resolve_models("@openai")) == 4
