"""What zsbench does for each thing ``clip_benchmark eval`` 1.6.2 takes: every dataset name its builder accepts and
its collections, every flag, task and metric, each with zsbench's equivalent or a refusal and its reason.

The names are read from the installed clip-benchmark itself (its parser, its ``build_dataset`` and
``build_vtab_dataset`` if-chains, its ``dataset_collection``, its metrics modules), so a name a new version adds
shows up here unmapped and the test fails. Datasets and collections are answered by running zsbench's own
resolution (``get_task``, the suite reader), not by a hand-written claim: a row says what a user who types that
name gets, the one-line message included. Flags, tasks and metrics map through the tables below, whose zsbench
flags the tests check against zsbench's parsers. ``render()`` writes ``docs/reference/clip_benchmark.md``.
"""
from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass

#: CLIP_benchmark eval flag -> what zsbench takes for it (a flag of `zsbench run` first where there is one)
FLAGS: dict[str, str] = {
    "--dataset": "`--task` (its dataset names map to our tasks; its collections are suites: see the tables below)",
    "--dataset_root": "`--data-dir` (`{dataset}` and `{dataset_cleaned}` filled in as there); an export at a URL "
                      "(its `https://huggingface.co/datasets/.../tree/main` form, `hf://`, any http server): "
                      "`--task URL`",
    "--split": "`--split`",
    "--test_split": "`--split`",
    "--train_split": "refused as a flag: a task's training split is part of its spec (`train_split` in a task file)",
    "--val_split": "refused as a flag: a task's validation split is part of its spec (`val_split` in a task file)",
    "--val_proportion": "refused as a flag: the linear probe takes a class-balanced 20% of train as the CLIP paper "
                        "does when the task has no validation split",
    "--model": "`--model` (also `@openai`, `@openclip_base`, ... for its collections)",
    "--pretrained": "`--pretrained` (one per `--model`; `--all-pairs` for its product)",
    "--pretrained_model": "`--pretrained-model`",
    "--task": "`--protocol` (see the tasks table)",
    "--no_amp": "`--profile clip_benchmark` runs its default autocast; without the profile zsbench runs fp32, as "
                "`--no_amp` does",
    "--num_workers": "`--workers`",
    "--recall_k": "`--recall-k` (recall@K at these K too, both ways; recall@1, 5 and 10 always)",
    "--fewshot_k": "`--fewshot-k` with `--probe-method clip_benchmark` (its probe, k per class; `--shots` runs the "
                   "CLIP paper's few-shot curve)",
    "--fewshot_epochs": "`--fewshot-epochs` (its AdamW probe: `--probe-method clip_benchmark`, implied by "
                        "`--profile clip_benchmark`)",
    "--fewshot_lr": "`--fewshot-lr` (its AdamW probe's peak learning rate)",
    "--skip_load": "automatic: a run whose features and classifiers are cached loads no model (and imports no torch)",
    "--distributed": "`torchrun --nproc_per_node N $(which zsbench) run ...`: extraction split across ranks "
                     "(equal to one process, tested)",
    "--seed": "`--seed`",
    "--batch_size": "`--batch-size`",
    "--normalize": "`--probe-normalize on|off` (its probe; the CLIP paper's standardizes inside its solver)",
    "--model_cache_dir": "refused as a flag: open_clip and Hugging Face downloads use their own caches (`HF_HOME`)",
    "--feature_root": "`--cache-dir` (features cached by content, for every protocol)",
    "--annotation_file": "refused as a flag: each split's annotation file is read where its builder puts it "
                         "(DATA/<name>/<name>_<split>_karpathy.txt, DATA/mscoco/coco_<split>_karpathy.json); any "
                         "other captions: a CSV/JSONL file as `--task`",
    "--custom_classname_file": "`--classnames FILE` (keyed by its dataset names, as there)",
    "--custom_template_file": "`--templates FILE.json` (keyed by its dataset names, falling back to `imagenet1k`; an "
                              "entry of class -> prompts is class-specific, e.g. its cupl_prompts.json, also "
                              "`--templates cupl`)",
    "--dump_classnames": "automatic: every record holds the class names it used (`task_info.classnames`)",
    "--dump_templates": "automatic: every record holds the templates it used (`task_info.templates_used`)",
    "--language": "`--language`, repeatable like its list, or `all` / `@SET` (its five languages, Babel-ImageNet's "
                  "90, each retrieval set's codes; NLLB-CLIP's tokenizer set from it)",
    "--output": "`--format clip_benchmark` writes its result files (its file names) beside the records under `--out`, "
                "which takes `{dataset}` and `{dataset_cleaned}` as its template does",
    "--quiet": "`--quiet`",
    "--save_clf": "`--save-classifier` (its torch.save format; `{dataset}`, `{model}`, `{pretrained}`, `{templates}` "
                  "filled in; every classifier is also cached by content in `--cache-dir`)",
    "--load_clfs": "`--load-classifiers` (their plain mean, as there; each file's SHA-256 recorded)",
    "--skip_existing": "`--skip-existing`",
    "--model_type": "open_clip: the default; ja_clip: refused, its `japanese_clip` package is not on PyPI "
                    "(CLIP_benchmark installs it from GitHub); `transformers:` models run through the transformers "
                    "backend",
    "--wds_cache_dir": "`--wds-cache-dir` (where exports given by URL, `--task https://...` or `hf://...`, are "
                       "mirrored and read from)",
}
#: CLIP_benchmark task -> zsbench
TASKS: dict[str, str] = {
    "zeroshot_classification": "`--protocol zeroshot`",
    "zeroshot_retrieval": "`--protocol retrieval`",
    "linear_probe": "`--protocol linear-probe --probe-method clip_benchmark` (its AdamW probe, equal to its "
                    "linear_probe.evaluate; `--probe-method paper`: the CLIP paper's L-BFGS probe)",
    "captioning": "refused: zsbench evaluates contrastive image-text models, which caption nothing; captioning "
                  "needs a generative model (CoCa's decoder) and the coco-caption scorers (Java)",
    "image_caption_selection": "`--protocol caption-selection`",
    "auto": "the default: a task's kind picks its protocol",
}
#: CLIP_benchmark metric key -> the key in a zsbench record's metrics (or config)
METRICS: dict[str, str] = {
    "acc1": "`top1`", "acc5": "`top5`", "mean_per_class_recall": "`mean_per_class_recall`",
    "mean_average_precision": "`mean_average_precision` (`--protocol multilabel`, the default for multi-label tasks; "
                              "each class's AP in `average_precision`)",
    "image_retrieval_recall@K": "`image_retrieval_recall@K` for K in 1, 5, 10 and `--recall-k`",
    "text_retrieval_recall@K": "`text_retrieval_recall@K` for K in 1, 5, 10 and `--recall-k`",
    "lp_acc1": "`top1` of a `linear-probe` record", "lp_acc5": "`top5` of a `linear-probe` record",
    "lp_mean_per_class_recall": "`mean_per_class_recall` of a `linear-probe` record",
    "weight_decay": "a clip_benchmark-method linear-probe record's `config.weight_decay` (the paper method's "
                    "`config.best_C`)",
    "epochs": "`config.epochs` of a clip_benchmark-method probe record",
    "seed": "`seed`", "fewshot_k": "`config.fewshot_k` of a clip_benchmark-method probe record",
    "normalized": "`config.normalized` of a clip_benchmark-method probe record",
    "text_acc": "`text_acc`", "image_acc": "`image_acc`", "acc": "`acc`",
    **{m: "refused: no captioning (see the tasks table)"
       for m in ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr", "SPICE")},
}


@dataclass(frozen=True)
class Row:
    theirs: str
    ours: str
    refused: bool = False


def _eval_actions() -> list:
    """The options of ``clip_benchmark eval``, from its own parser."""
    import argparse
    import sys

    from clip_benchmark.cli import get_parser_args

    argv, sys.argv = sys.argv, ["clip_benchmark", "eval"]  # its parser parses sys.argv as it is built
    try:
        parser, _ = get_parser_args()
    finally:
        sys.argv = argv
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices["eval"]._actions)


def eval_flags() -> list[str]:
    """Every option of ``clip_benchmark eval``."""
    return [a.option_strings[0] for a in _eval_actions() if a.option_strings and a.dest != "help"]


def _compared_names(function, variable: str) -> tuple[list[str], list[str]]:
    """The strings ``variable`` is compared with (``==``) and the prefixes it is tested for (``startswith``) in
    ``function``'s source, in order."""
    tree = ast.parse(inspect.getsource(function))
    names, prefixes = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == variable:
            for op, right in zip(node.ops, node.comparators):
                if isinstance(op, ast.Eq) and isinstance(right, ast.Constant):
                    names.append(right.value)
                elif isinstance(op, ast.In) and isinstance(right, (ast.Tuple, ast.List)):
                    names += [e.value for e in right.elts if isinstance(e, ast.Constant)]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "startswith" \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == variable:
            prefixes += [a.value for a in node.args if isinstance(a, ast.Constant)]
    return list(dict.fromkeys(names)), list(dict.fromkeys(prefixes))


def dataset_names() -> list[str]:
    """Every dataset name ``build_dataset`` accepts: its named datasets, its VTAB ones (``vtab/<name>``: the names
    ``build_vtab_dataset`` takes, its families' members from the collections), the SugarCrepe subsets, and one
    row for each open family (``tfds/<name>``, ``wds/<name>``)."""
    from clip_benchmark.datasets import builder

    named, prefixes = _compared_names(builder.build_dataset, "dataset_name")
    vtab, vtab_families = _compared_names(builder.build_vtab_dataset, "dataset_name")
    collected = [n for names in builder.dataset_collection.values() for n in names]
    out = list(named)
    out += [f"vtab/{n}" for n in vtab]
    out += [n for n in collected if n.startswith("vtab/") and n.split("/", 1)[1].startswith(tuple(vtab_families))]
    out += [n for n in collected if n.startswith("sugar_crepe/")]
    out += [f"{p}<name>" for p in prefixes if p.endswith("/") and p != "vtab/"]
    return list(dict.fromkeys(out))


def collections() -> dict[str, list[str]]:
    from clip_benchmark.datasets import builder

    return {name: list(names) for name, names in builder.dataset_collection.items()}


def metric_keys() -> list[str]:
    """Every metric key CLIP_benchmark's metrics modules return (``{k}`` of an f-string read as ``K``)."""
    from clip_benchmark.metrics import (captioning, image_caption_selection, linear_probe, zeroshot_classification,
                                        zeroshot_retrieval)

    keys: list[str] = []
    for module in (zeroshot_classification, zeroshot_retrieval, linear_probe, image_caption_selection, captioning):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
                keys += [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
            elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript) \
                    and isinstance(node.targets[0].value, ast.Name) and node.targets[0].value.id == "metrics":
                key = node.targets[0].slice
                if isinstance(key, ast.Constant):
                    keys.append(key.value)
                elif isinstance(key, ast.JoinedStr):
                    keys.append("".join(v.value if isinstance(v, ast.Constant) else "K" for v in key.values))
            elif isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "scorers":
                keys += [c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
    return list(dict.fromkeys(keys))


def task_names() -> list[str]:
    return list(next(a for a in _eval_actions() if a.dest == "task").choices)


def dataset_row(name: str) -> Row:
    """What ``zsbench run --task NAME`` does with one of its names (run through our own resolution)."""
    from bench.core.errors import UserError
    from tasks.registry import get_task

    if name.endswith("<name>"):  # an open family: what one of its members gets
        prefix = name[:-len("<name>")]
        if prefix == "wds/":
            return Row(name, f"`--task {prefix}<name>` maps like `<name>`; any export folder is a task as it is")
        return Row(name, dataset_row(f"{prefix}example").ours, refused=True)
    try:
        spec = get_task(name)
    except UserError as exc:
        return Row(name, f"refused: {exc}", refused=True)
    return Row(name, f"`{spec.name}`" + (f" ({spec.description})" if spec.description else "")
               + "".join(f"; under `--profile {s.options['profile']}`: {s.options['what']}, as CLIP_benchmark reads it"
                         for s in spec.sources if s.options.get("exclusive")))


def collection_row(name: str, members: list[str]) -> Row:
    """Served when zsbench has a suite of that name holding exactly the tasks its members stand for; otherwise
    what the suite of that name is (if any) and which members have no task."""
    from bench.core.errors import UserError
    from tasks.registry import get_task
    from tasks.suites import expand_task_names

    theirs, missing = [], []
    for member in members:
        try:
            theirs.append(get_task(member).name)
        except UserError:
            missing.append(member)
    try:
        ours = [get_task(t).name for t in expand_task_names([f"@{name}"])]
    except UserError:
        ours = None
    if ours == theirs and not missing:
        return Row(name, f"`--task @{name}`: its {len(members)} datasets")
    said = (f"`@{name}` is another list ({len(ours)} tasks: {', '.join(ours)})" if ours is not None
            else f"no suite `@{name}`")
    return Row(name, f"not yet: {said}; of its {len(members)} datasets {len(theirs)} have tasks"
               + (f", {len(missing)} have none ({', '.join(missing)})" if missing else ""), refused=True)


def unmapped() -> dict[str, list[str]]:
    """CLIP_benchmark names zsbench says nothing about: a flag, task or metric missing from the tables, a dataset
    that gets the generic 'unknown task' answer, a collection that is no suite (with a reason it is a refusal)."""
    return {"flags": [f for f in eval_flags() if f not in FLAGS],
            "tasks": [t for t in task_names() if t not in TASKS],
            "metrics": [m for m in metric_keys() if m not in METRICS],
            "datasets": [n for n in dataset_names() if dataset_row(n).ours.startswith("refused: unknown task")]}


def render() -> str:
    """``docs/reference/clip_benchmark.md``."""
    from importlib.metadata import version as dist_version

    version = dist_version("clip-benchmark")  # the package's own __version__ says 0.1.0
    out = ["<!-- generated by `zsbench docs` from the installed clip-benchmark and zsbench's code; edit the code -->\n\n",
           "# CLIP_benchmark parity\n\n",
           f"Everything `clip_benchmark eval` {version} takes, read from the installed package itself, and what zsbench "
           "does with it. Dataset and collection rows are what zsbench's own name resolution answers (a refusal is "
           "the one line a user sees); the test `tests/docs/test_clip_benchmark_parity.py` fails when CLIP_benchmark "
           "has a name this page does not answer.\n"]

    def table(title: str, header: str, rows: list[Row]) -> None:
        done = sum(not r.refused for r in rows)
        out.append(f"\n## {title} ({done} of {len(rows)} served)\n\n| {header} | zsbench |\n| --- | --- |\n")
        out.extend(f"| `{r.theirs}` | {_cell(r.ours)} |\n" for r in rows)

    def refused(text: str) -> bool:
        return text.startswith(("refused", "not yet"))

    table("Datasets (`--dataset`)", "CLIP_benchmark name", [dataset_row(n) for n in dataset_names()])
    table("Dataset collections", "collection", [collection_row(n, m) for n, m in collections().items()])
    table("Flags of `clip_benchmark eval`", "flag", [Row(f, FLAGS[f], refused(FLAGS[f])) for f in eval_flags()])
    table("Tasks (`--task`)", "task", [Row(t, TASKS[t], refused(TASKS[t])) for t in task_names()])
    table("Metrics", "metric key", [Row(m, METRICS[m], refused(METRICS[m])) for m in metric_keys()])
    return "".join(out)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
