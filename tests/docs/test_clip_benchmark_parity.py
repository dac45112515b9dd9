"""The CLIP_benchmark parity table (docs/reference/clip_benchmark.md): every dataset name, collection, flag, task and
metric of the installed clip-benchmark is answered, the table is current, and the zsbench flags it names exist."""
from __future__ import annotations

import re

from bench.apps import clip_benchmark_parity as parity
from helpers.cli import REPO


def test_every_clip_benchmark_name_is_answered():
    """Fails when a CLIP_benchmark version adds a dataset, flag, task or metric this table does not map or refuse."""
    assert parity.unmapped() == {"flags": [], "tasks": [], "metrics": [], "datasets": []}
    # the enumeration reads CLIP_benchmark itself: its known names are found
    names = parity.dataset_names()
    assert {"cifar10", "imagenet1k", "vtab/dmlab", "vtab/smallnorb_label_azimuth", "sugar_crepe/swap_obj",
            "wds/<name>", "voc2007_multilabel"} <= set(names)
    assert {"--dataset", "--pretrained_model", "--recall_k", "--wds_cache_dir"} <= set(parity.eval_flags())
    assert {"acc1", "mean_average_precision", "image_retrieval_recall@K", "lp_acc1", "text_acc", "CIDEr"} \
        <= set(parity.metric_keys())


def test_the_checker_catches_an_unmapped_name(monkeypatch):
    monkeypatch.setattr(parity, "eval_flags", lambda: ["--dataset", "--new_flag"])
    monkeypatch.setattr(parity, "dataset_names", lambda: ["cifar10", "brand_new_set"])
    found = parity.unmapped()
    assert found["flags"] == ["--new_flag"] and found["datasets"] == ["brand_new_set"]


def test_rows_say_what_a_user_gets():
    assert parity.dataset_row("cars").ours.startswith("`stanford_cars`")
    assert parity.dataset_row("vtab/dmlab").ours.startswith("`dmlab`")
    assert parity.dataset_row("vtab/sun397").ours.startswith("`vtab/sun397`")
    assert parity.dataset_row("imagenet-w").ours.startswith("`imagenet-w`")
    assert parity.dataset_row("dummy").ours.startswith("`dummy`")
    row = parity.dataset_row("tfds/example")
    assert row.refused and "TensorFlow is not a dependency" in row.ours   # the one line zsbench prints
    assert "--profile clip_benchmark" in parity.dataset_row("eurosat").ours
    assert not parity.collection_row("sugar_crepe", parity.collections()["sugar_crepe"]).refused
    assert parity.collection_row("vtab", parity.collections()["vtab"]).ours == "`--task @vtab`: its 19 datasets"
    assert parity.collection_row("retrieval", parity.collections()["retrieval"]).ours == \
        "`--task @retrieval`: its 3 datasets"
    assert not any(parity.collection_row(n, m).refused for n, m in parity.collections().items())


def test_the_zsbench_flags_the_table_names_exist():
    """A flag named as zsbench's equivalent is one of `zsbench run`'s (or `sweep`'s, `robustness`') options."""
    from bench.commands import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    ours = {o for name in ("run", "sweep", "robustness") for a in sub.choices[name]._actions for o in a.option_strings}
    named = {f for text in parity.FLAGS.values() for f in re.findall(r"`(--[a-z][a-z_-]*)", text)
             if "_" not in f}  # CLIP_benchmark's own flags are spelled with underscores
    assert "--pretrained-model" in named
    assert named and named <= ours, named - ours


def test_the_table_is_current():
    page = REPO / "docs" / "reference" / "clip_benchmark.md"
    assert page.read_text(encoding="utf-8") == parity.render(), "run `zsbench docs` and commit docs/reference/"
