"""Leaderboards: models x tasks from run records, the CLIP paper's way.

Each cell is the task's own metric (top-1, or mean per-class recall where the CLIP paper uses
it) unless ``metric`` names one; the average is over the tasks a row has, and ``tasks`` says how
many. A repeated (model, templates, task, protocol) run replaces the earlier one unless
``history`` is asked for. Published figures can be shown beside the runs; a run more than one
point below the published figure for the same checkpoint and task is flagged with the usual
causes.
"""
from __future__ import annotations

import csv
import io
import json
from functools import lru_cache

import numpy as np
import pandas as pd

from bench.core.errors import UserError
from bench.core.paths import package_file
from bench.report.formats import FORMATS, METRICS
from bench.report.collect import default_board, newest, of_protocol, task_column, zero_shot_classifiers

PUBLISHED = package_file("bench.report", "data", "published_openclip.csv")
FLAG_CAUSES = ("templates (use the task's own set: --templates omitted)", "class names (CLIP's list for the task)",
               "QuickGELU (OpenAI weights need the -quickgelu model variant)",
               "preprocessing (the checkpoint's own resize, crop, mean/std)")


@lru_cache(maxsize=1)
def published() -> pd.DataFrame:
    """open_clip's published zero-shot table (source in the file's header), values as fractions; the
    table's own 38-task average is kept apart (:func:`published_averages`)."""
    table = _published_file()
    return table[table.task != "average_38"].reset_index(drop=True)


def published_averages() -> pd.Series:
    """open_clip's 'Average perf. on 38 datasets' per (model, pretrained), as a fraction."""
    table = _published_file()
    return table[table.task == "average_38"].set_index(["model", "pretrained"]).value


@lru_cache(maxsize=1)
def _published_file() -> pd.DataFrame:
    text = "\n".join(ln for ln in PUBLISHED.read_text().splitlines() if not ln.startswith("#"))
    return pd.DataFrame(list(csv.DictReader(io.StringIO(text)))).astype({"value": float})


#: open_clip's published table (docs/openclip_results.csv) was made with DataComp's evaluation code
PUBLISHED_PROFILE = "datacomp"


def model_label(r) -> str:
    """Zero-shot runs with each task's own templates share the model's row; others get their own."""
    return r.label if not r.uses_templates or r.task_templates else f"{r.label} [{r.templates}]"


def row_label(r) -> str:
    """:func:`model_label`, and each classifier variant a protocol declares (a probe's features and training
    subset) on a row of its own."""
    variant = getattr(r, "features", "-")
    return model_label(r) if variant in ("-", None) else f"{model_label(r)} [{variant}]"


#: DataComp's group means (aggregate_scores.py) -> the suite of each; a leaderboard shows a group's mean
#: as a column of its own, for rows that have all its tasks
GROUPS = {"imagenet dist. shifts": "imagenet-dist-shifts", "vtab": "datacomp-vtab", "retrieval": "datacomp-retrieval"}


def leaderboard(runs: pd.DataFrame, protocol: str | None = None, metric: str = "primary", history: bool = False,
                with_published: bool = False, suite: str | None = None,
                reviewed: list[tuple[str, dict[str, float]]] | None = None) -> pd.DataFrame:
    """Rows: model (+ templates for zero-shot); columns: tasks, group means, ``average``, ``tasks``; in %.

    Honest averages: ``average`` is shown only for rows that have every task column (with
    ``suite``, every task of the suite, each on its own main metric); other rows show none, and
    ``tasks`` says how many they have. A group mean (DataComp's: ImageNet distribution shifts, VTAB,
    retrieval) likewise needs all of the group's tasks.

    ``reviewed``: (task, record path -> top-1 on reviewed labels) pairs (:mod:`bench.report.review`): each adds a
    column ``TASK (reviewed)`` beside the task's, marked as such and left out of every mean.
    """
    if metric not in METRICS:
        raise UserError(f"--metric must be one of {', '.join(METRICS)}, not '{metric}'")
    protocol = protocol or default_board(runs)
    sel = of_protocol(runs, protocol)
    if sel.empty:
        have = ", ".join(sorted(runs.protocol.unique()))
        raise UserError(f"no '{protocol}' records (the records hold: {have}); pick one with --protocol")
    if not history:
        sel = newest(sel)
    # rows never mix profiles: with more than one among the records, each row is one profile's
    mixed = sel.profile.nunique() > 1
    sel = sel.assign(row=[(row_label(r) + (f" [{r.profile}]" if mixed else "") + (f" @{r.created}" if history else ""))
                          for r in sel.itertuples()],
                     value=pd.to_numeric(sel[metric], errors="coerce") * 100,
                     column=[task_column(t, lang) for t, lang in zip(sel.task, sel.language)])
    table = sel.pivot_table(index="row", columns="column", values="value", aggfunc="first")
    profiles = sel.groupby("row").profile.first()
    columns = suite_tasks(suite) if suite else sorted(table.columns)
    if with_published:  # the published row of each model shown, on every column (a suite's: all of it)
        pub = published()
        pairs = {(m, p) for m, p in zip(sel.model, sel.pretrained)}
        mine = np.array([(m, p) in pairs for m, p in zip(pub.model, pub.pretrained)], dtype=bool)
        extra = pub[mine & pub.task.isin(columns).to_numpy()]
        for (m, p), group in extra.groupby(["model", "pretrained"]):
            table.loc[f"{m} / {p} (published)", group.task.tolist()] = (group.value * 100).tolist()
            profiles[f"{m} / {p} (published)"] = PUBLISHED_PROFILE
    table = table.reindex(columns, axis=1)
    complete = table.notna().all(axis=1)
    groups = {}
    for group, suite_name in GROUPS.items():
        members = suite_tasks(suite_name)
        if set(members) <= set(columns) and len(members) < len(columns):
            groups[f"mean {group}"] = table[members].mean(axis=1).where(table[members].notna().all(axis=1))
    for name, values in groups.items():
        table[name] = values
    table["average"] = table[columns].mean(axis=1).where(complete)
    table["tasks"] = table[columns].notna().sum(axis=1)
    table["profile"] = profiles.reindex(table.index)
    for task, by_path in reviewed or ():
        values = pd.Series({row: 100 * by_path[str(path)] for row, path in zip(sel.row, sel.path)
                            if str(path) in by_path}, dtype=float)
        at = table.columns.get_loc(task) + 1 if task in table.columns else len(table.columns)
        table.insert(at, f"{task} (reviewed)", values.reindex(table.index))
    return table.sort_values(["average", "tasks"], ascending=False, na_position="last")


def suite_tasks(suite: str) -> list[str]:
    from tasks.suites import read_suite

    return read_suite(suite if suite.startswith("@") else "@" + suite)


def missing_tasks(table: pd.DataFrame) -> dict[str, list[str]]:
    """Per row without an average, the task columns it lacks."""
    columns = [c for c in table.columns if c not in ("average", "tasks", "profile") and not str(c).startswith("mean ")
               and not str(c).endswith("(reviewed)")]
    return {row: [c for c in columns if pd.isna(table.loc[row, c])] for row in table.index
            if pd.isna(table.loc[row, "average"])}


def own_templates_first(runs: pd.DataFrame) -> pd.DataFrame:
    """Newest zero-shot record per model and task, preferring the task's own template set."""
    zs = newest(zero_shot_classifiers(runs))
    return zs.sort_values("task_templates", ascending=False, kind="stable").drop_duplicates(["label", "task",
                                                                                              "language"])


def below_published(runs: pd.DataFrame, tolerance: float = 0.01) -> list[str]:
    """Zero-shot runs more than ``tolerance`` below open_clip's figure for the same checkpoint + task;
    the last line names the usual causes."""
    pub = published().set_index(["model", "pretrained", "task"]).value
    notes = []
    for r in newest(zero_shot_classifiers(runs[runs.published.astype(bool)])).itertuples():
        ref = pub.get((r.model, r.pretrained, r.task))
        if ref is not None and r.primary is not None and r.primary < ref - tolerance:
            notes.append(f"{r.model} / {r.pretrained} on {r.task} [{r.templates}]: {100 * r.primary:.1f}, more than "
                         f"{100 * tolerance:g} point below the published {100 * ref:.1f} ({100 * (r.primary - ref):+.1f})")
    if notes:
        notes.append("usual causes of a shortfall: " + "; ".join(FLAG_CAUSES))
    return notes


def prompt_source_notes(runs: pd.DataFrame) -> list[str]:
    """Where a run was not made the way open_clip's published figure was (DataComp's pipeline: the
    datacomp profile), for the checkpoints and tasks that have a published figure: which prompts differ,
    or that another profile ran."""
    from tasks.classes import reference_differences

    pub = published().set_index(["model", "pretrained", "task"]).value
    notes = []
    for r in newest(zero_shot_classifiers(runs[runs.published.astype(bool)])).itertuples():
        if (r.model, r.pretrained, r.task) not in pub.index or not r.task_templates or r.profile == PUBLISHED_PROFILE:
            continue
        if r.prompt_source == "clip_benchmark" and r.language == "en":
            notes.append(f"{r.model} / {r.pretrained} on {r.task}: made under --profile {r.profile}, the published "
                         f"figure under DataComp's pipeline: rerun with --profile {PUBLISHED_PROFILE} to compare like "
                         "with like")
            continue
        differ = reference_differences(r.task) if r.language == "en" else ["class names", "templates"]
        if differ:
            notes.append(f"{r.model} / {r.pretrained} on {r.task}: {' and '.join(differ)} from "
                         f"{r.prompt_source} ({r.language}); the published figure used CLIP_benchmark's (en), which "
                         f"differ here: rerun with --profile {PUBLISHED_PROFILE} to compare like with like")
    return notes


def to_markdown(table: pd.DataFrame, index_name: str = "model") -> str:
    def cell(v) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else f"{v:.2f}"
        return str(v)
    header = [index_name, *map(str, table.columns)]
    rows = [[str(i), *(cell(v) for v in row)] for i, row in zip(table.index, table.itertuples(index=False))]
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    line = lambda r: "| " + " | ".join(v.ljust(w) if c == 0 else v.rjust(w) for c, (v, w) in enumerate(zip(r, widths))) + " |"  # noqa: E731
    sep = "|" + "|".join(("-" * (w + 2)) if c == 0 else ("-" * (w + 1) + ":") for c, w in enumerate(widths)) + "|"
    return "\n".join([line(header), sep, *map(line, rows)])


def render(table: pd.DataFrame, fmt: str, index_name: str = "model") -> str:
    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    if fmt == "md":
        return to_markdown(table, index_name)
    if fmt == "csv":
        return table.round(4).to_csv(index_label=index_name)
    if fmt == "html":
        return table.to_html(float_format=lambda v: f"{v:.2f}", na_rep="", index_names=False, border=0,
                             classes="leaderboard")
    records = [{index_name: i, **{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}}
               for i, row in table.to_dict(orient="index").items()]
    return json.dumps(records, indent=1, default=float)
