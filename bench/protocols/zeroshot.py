"""Zero-shot classification (CLIP paper section 3.1): image features against the prompt-ensemble
classifier of the task's class names, once per template set."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.core.errors import UserError
from bench.core.paths import user_path
from bench.core.numbers import real
from bench.engine.calibration import prediction_calibration
from bench.engine.config import option

#: --calibration-fraction: strictly between 0 and 1
fraction = real(0.0, 1.0, low_open=True, high_open=True)
from bench.engine.protocol import CLASSIFICATION_COLUMNS, Outcome, PlotKind, Protocol, Unit, View
from prompts.languages import ENGLISH

if TYPE_CHECKING:  # pragma: no cover - the engine's heavy modules load when a protocol evaluates, not when
    import pandas as pd

    from bench.engine.config import RunConfig

    from bench.engine.evaluation import Evaluation  # a report asks how its results are shown


@dataclass
class ZeroShotOptions:
    """CLIP_benchmark's ``--save_clf`` and ``--load_clfs``."""

    save_classifier: str | None = option(
        "--save-classifier", "zero-shot: also write each classifier as CLIP_benchmark's --save_clf does (torch.save of "
        "the [dim, classes] float32 tensor) to this path; {dataset}, {model}, {pretrained} and {templates} are "
        "filled in", None, metavar="PATH", result=False)
    load_classifiers: list[str] = option(
        "--load-classifiers", "zero-shot: score with the mean of these saved classifiers instead of building one from "
        "prompts, as CLIP_benchmark's --load_clfs (each a [dim, classes] tensor saved by torch.save or numpy; their "
        "SHA-256 recorded); repeatable", [], kind="list", metavar="PATH")
    calibrate: str | None = option(
        "--calibrate", "zero-shot: fit one softmax temperature on held-out samples (the task's training split, or "
        "--calibration-fraction of the test set) and report ECE, NLL and Brier before and after it beside the figures "
        "(docs/results.md)", None, choices=("temperature",))
    calibration_fraction: float | None = option(
        "--calibration-fraction", "zero-shot --calibrate: hold out this seeded, class-stratified fraction of the test "
        "set to fit the temperature on (its calibration figures are over the rest; top-1 and the others stay over "
        "every image) instead of the training split", None, parse=fraction, metavar="F")


class ZeroShot(Protocol):
    name = "zeroshot"
    options = ZeroShotOptions
    summary = "zero-shot classification: a classifier of the class names' prompts, top-1/top-5/mean per-class recall"
    metrics = ("top1", "top5", "mean_per_class_recall", "top1_ci95")
    uses_templates = True
    adaptive = True
    zero_shot = True
    columns = CLASSIFICATION_COLUMNS
    published = True
    default_for = ("classification",)

    @classmethod
    def views(cls) -> tuple[View, ...]:
        return (View("calibration", "per record that keeps per-sample probabilities (zero-shot, probes): ECE (15 "
                     "equal-mass bins, and 15 equal-width), NLL, Brier; with --calibrate, the temperature and the "
                     "calibrated figures", "bench.protocols.zeroshot:calibration_table",
                     index_name="model, task, protocol"),
                View("languages", "per model and multilingual task: each language's figure (the task's own "
                     "templates), the mean over the languages the model has and how many", 
                     "bench.protocols.zeroshot:language_table", index_name="model, task"),)

    @classmethod
    def plots(cls) -> tuple[PlotKind, ...]:
        from bench.report.formats import CHECKPOINTS_PLOT, LEADERBOARD_PLOT

        return (PlotKind("prompt-ensemble", "each template set's accuracy for one model and task (CLIP paper Fig. 4 "
                         "idea)", "bench.protocols.zeroshot:plot_prompt_ensemble"), LEADERBOARD_PLOT, CHECKPOINTS_PLOT,
                PlotKind("reliability", "reliability diagrams (accuracy against top-1 confidence in 15 equal-width "
                         "bins) of the task with the most records that keep probabilities",
                         "bench.protocols.zeroshot:plot_reliability"),
                PlotKind("languages", "language x model heat map of a multilingual task, languages sorted by the gap "
                         "to English (largest last)", "bench.protocols.zeroshot:plot_languages_by_english_gap"),
                PlotKind("languages-by-resource", "the same heat map, languages sorted by resource level (Babel-"
                         "ImageNet's class count, BabelNet's coverage of the language, as the proxy; other tasks: the "
                         "mean figure)", "bench.protocols.zeroshot:plot_languages_by_resource"))
    clip_benchmark_task = "zeroshot_classification"

    def settings(self, record) -> str:
        return f"{record.templates} ({record.config['n_templates']})"

    def template_sets(self, config: "RunConfig") -> list[str | None]:
        """Loaded classifiers replace the prompts: one pass."""
        return [None] if config.options_for(self).load_classifiers else super().template_sets(config)

    def needs_train(self, config: "RunConfig") -> bool:
        """--calibrate without a fraction fits its temperature on the training split's features."""
        own = config.options_for(self)
        return bool(own.calibrate) and own.calibration_fraction is None

    def units(self, requested: str, config: "RunConfig") -> list[Unit]:
        units = super().units(requested, config)
        if self.needs_train(config):
            from tasks.registry import get_task

            spec = get_task(requested)
            if not spec.train_split:
                raise UserError(f"--calibrate temperature needs a held-out split and task {spec.name} has no training "
                                "split: add --calibration-fraction 0.2 (a seeded, class-stratified fifth of the test "
                                "set, left out of the calibrated figures)")
        return units

    def check(self, config: "RunConfig") -> None:
        own = config.options_for(self)
        if own.calibration_fraction is not None and not own.calibrate:
            raise UserError("--calibration-fraction is the held-out part of --calibrate temperature: add --calibrate "
                            "temperature or drop it")
        if own.load_classifiers and (config.target_ci is not None or config.top_k is not None):
            raise UserError("--load-classifiers scores the whole test set with the loaded classifiers: drop "
                            "--target-ci / --top, which evaluate on a growing sample")
        for path in own.load_classifiers:
            if not user_path(path).is_file():
                raise UserError(f"--load-classifiers {path}: file not found; give classifiers written by "
                                "--save-classifier or CLIP_benchmark's --save_clf")

    def evaluate(self, ev: "Evaluation", unit: Unit, templates: str | None) -> list[Outcome]:
        own = ev.config.options_for(self)
        feats = ev.features()
        clf = loaded_classifier(own.load_classifiers, feats, ev) if own.load_classifiers else ev.classifier(templates)
        if own.save_classifier:
            save_classifier(own.save_classifier, clf.weights, ev, clf.name)
        t0 = time.perf_counter()
        metrics, top5, logits = score_zero_shot(ev, feats, clf.weights)
        metrics.update(task_metrics(ev.spec, ev.task.source, feats, top5))
        metrics["primary"] = metrics[ev.spec.metric]
        calibration = {}
        if own.calibrate:
            figures, calibration = temperature_calibration(ev, feats, logits, clf.weights, own.calibration_fraction)
            metrics.update(figures)
        return [Outcome(
            metrics, int(len(feats.labels)), templates=clf.name,
            config={"n_templates": clf.n_templates, "task_templates": templates is None,
                    **({"classifiers_loaded": clf.info["loaded"]} if own.load_classifiers else {}), **calibration},
            timings={"features": feats.info["seconds"], "classifier": clf.info["seconds"],
                     "evaluate": time.perf_counter() - t0,
                     # of "features": the image tower's own time (the rest: decoding, preprocessing, the cache)
                     "image_forward": feats.info.get("forward_seconds", 0.0)},
            task_info=feature_facts(feats) | {"classifier_cache": clf.info["cache"],
                                              "templates_used": clf.recorded_templates},
            predictions={"indices": feats.indices, "labels": feats.labels, "top5": top5.astype(np.int32),
                         **zero_shot_scores(ev, logits, feats.labels)},
        )]


def loaded_classifier(paths: list[str], feats, ev: "Evaluation"):
    """The mean of saved classifiers, as CLIP_benchmark's ``--load_clfs`` averages them (a plain mean, no
    normalisation after it); each must be ``[feature dim, the task's classes]``."""
    import hashlib

    from bench.engine.evaluation import Classifier

    total, loaded = None, []
    want = (np.asarray(feats.features).shape[1], len(ev.task.classnames))
    for path in map(user_path, paths):
        data = path.read_bytes()  # read once: the tensor and its hash
        weights = read_classifier(path, data)
        if weights.shape != want:
            raise UserError(f"--load-classifiers {path}: a {weights.shape[0]} x {weights.shape[1]} classifier, but "
                            f"{ev.spec.name} needs {want[0]} x {want[1]} (feature dim x classes) for this model")
        total = weights / len(paths) if total is None else total + weights / len(paths)
        loaded.append({"path": str(path), "sha256": hashlib.sha256(data).hexdigest()})
    return Classifier(total.astype(np.float32), [], f"loaded({len(paths)})",
                      {"cache": "loaded", "seconds": 0.0, "loaded": loaded})


def read_classifier(path: Path, data: bytes | None = None) -> np.ndarray:
    """A saved ``[dim, classes]`` classifier (``torch.save`` or ``.npy``), from ``data`` when the caller has read it."""
    import io

    try:
        buffer = io.BytesIO(path.read_bytes() if data is None else data)
        if path.suffix == ".npy":
            return np.load(buffer).astype(np.float32)
        import torch

        return torch.load(buffer, map_location="cpu", weights_only=True).float().numpy()
    except Exception as exc:  # a file that is no saved tensor: said in one line
        raise UserError(f"--load-classifiers {path}: not a saved tensor ({type(exc).__name__}); give a file written "
                        "by --save-classifier or torch.save") from None


def save_classifier(template: str, weights: np.ndarray, ev: "Evaluation", templates: str) -> Path:
    """``torch.save`` of the classifier (float32 ``[dim, classes]``), CLIP_benchmark's ``--save_clf`` format."""
    import io

    import torch

    from bench.core.store import atomic_write_bytes

    try:
        path = Path(template.format(dataset=ev.spec.name.replace("/", "_"), model=ev.backend.name.replace("/", "_"),
                                    pretrained=Path(str(ev.backend.pretrained)).name, templates=templates))
    except (KeyError, IndexError, ValueError):
        raise UserError(f"--save-classifier {template}: only {{dataset}}, {{model}}, {{pretrained}} and {{templates}} "
                        "can be filled in") from None
    buf = io.BytesIO()
    torch.save(torch.from_numpy(np.ascontiguousarray(weights, dtype=np.float32)), buf)
    path = user_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue(), "pass --save-classifier a path with room")
    return path


def score_zero_shot(ev: "Evaluation", feats, weights) -> tuple[dict, np.ndarray, np.ndarray]:
    """Metrics, top-5 and logits of a zero-shot classifier on a feature set, as the run's profile computes them
    (logits in its score precision, top-5 under its rule). Every protocol that scores zero-shot calls this
    (zero-shot, robustness's in-distribution tasks and shifts), so a profile scores a task the same way in each."""
    from bench.engine.zeroshot import evaluate_zeroshot

    profile = ev.config.profile_spec
    return evaluate_zeroshot(feats.features, feats.labels, weights, ev.config.score_precision,
                             profile.top5_min_classes)


def zero_shot_scores(ev, logits, labels) -> dict:
    """Per-sample probabilities as the model scores (its logit scale on the cosines; SigLIP's sigmoid)."""
    from bench.engine.sample_scores import sample_scores, zero_shot_probabilities
    from bench.engine.zeroshot import LOGIT_SCALE

    backend = ev.backend
    cosines = np.asarray(logits, dtype=np.float32) / LOGIT_SCALE
    probs = zero_shot_probabilities(cosines, backend.logit_scale, backend.logit_bias, backend.probability)
    return sample_scores(probs, labels, keep_full=ev.config.save_logits)


def task_metrics(spec, source, feats, top5: np.ndarray) -> dict:
    """The DataComp metrics a task's spec asks for beyond top-1/top-5/mean per-class recall."""
    from bench.engine.group_metrics import f1_macro_present, grouped_metrics

    out = {}
    if spec.metric == "F1-macro_all":
        out["F1-macro_all"] = f1_macro_present(top5[:, 0], feats.labels)
    if spec.groups:
        metadata = getattr(source, "metadata", None)
        out.update(grouped_metrics(spec.groups, top5, feats.labels,
                                   None if metadata is None else metadata[feats.indices], spec.name))
    return out


def feature_facts(feats) -> dict:
    """What a record says about the features it was computed from."""
    facts = {"feature_cache": feats.info["cache"], "skipped_images": feats.info["skipped"],
             "images_per_second": feats.info["images_per_second"], "batch_size": feats.info["batch_size"]}
    if feats.info.get("computed"):  # features computed in this run: how the images were decoded, the tower ran
        facts["image_forward"], facts["decode"] = feats.info["image_forward"], feats.info["decode"]
    if feats.info.get("reused_rows"):  # rows another cache entry of this model held (e.g. an adaptive run's)
        facts["feature_rows_reused"] = feats.info["reused_rows"]
    if feats.info.get("stage"):  # made from the backend's cached intermediate (ConSE: probabilities shared by every T)
        facts["feature_stage"], facts["features_computed"] = feats.info["stage"], int(feats.info["computed"])
    return facts


def plot_prompt_ensemble(runs: "pd.DataFrame", plt):
    from bench.core.errors import UserError
    from bench.report.collect import newest, zero_shot_classifiers

    zs = newest(zero_shot_classifiers(runs))
    groups = [(k, g) for k, g in zs.groupby(["label", "task"]) if len(g) >= 2]
    if not groups:
        raise UserError("prompt-ensemble needs one model and task run with several template sets: "
                        "zsbench run ... --templates openai_imagenet --templates single")
    fig, axes = plt.subplots(1, len(groups), figsize=(4.5 * len(groups), 3.6), squeeze=False)
    for ax, ((label, task), g) in zip(axes[0], groups):
        g = g.sort_values("primary")
        colours = ["#c44e52" if t == "openai_imagenet" else "#4c72b0" if t == "single" else "#8c8c8c"
                   for t in g.templates]
        ax.barh(g.templates, 100 * g.primary, color=colours)
        for y, v in enumerate(100 * g.primary):
            ax.text(v, y, f" {v:.1f}", va="center", fontsize=8)
        ax.set_xlabel(f"{task} zero-shot accuracy (%)")
        ax.set_title(f"{label}\nprompt ensemble vs single templates", fontsize=9)
        lo = float(100 * g.primary.min())
        ax.set_xlim(max(0.0, lo - 10), min(100.0, float(100 * g.primary.max()) + 8))
    return fig


def language_records(runs: "pd.DataFrame") -> "pd.DataFrame":
    """The newest zero-shot record (classification or retrieval, the task's own templates) per model, task and
    language, of the tasks recorded in two languages or more."""
    from bench.report.collect import zero_shot_records

    zs = zero_shot_records(runs)
    zs = zs[zs.task_templates.astype(bool)].drop_duplicates(["label", "task", "language", "profile"])
    multi = zs.groupby("task").language.nunique()
    out = zs[zs.task.isin(multi[multi > 1].index)]
    if out.empty:
        raise UserError("no task has zero-shot records in two languages or more: run e.g. `zsbench run --task "
                        "babel_imagenet --language de --language zh ...` (or --language all)")
    return out


def language_table(runs: "pd.DataFrame") -> "pd.DataFrame":
    """Rows: model and task; columns: languages (in %, the task's main metric), then ``mean`` over the languages the
    row has and ``languages``, how many (a mean over different language sets is not comparable: compare rows with
    the same count)."""
    recs = language_records(runs)
    table = recs.assign(value=100 * recs.primary).pivot_table(index=["label", "task"], columns="language",
                                                              values="value", aggfunc="first")
    table = table.reindex(sorted(table.columns, key=lambda c: (c not in ENGLISH, c)), axis=1)
    languages = list(table.columns)
    table["mean"] = table[languages].mean(axis=1)
    table["languages"] = table[languages].notna().sum(axis=1)
    table.index.names = ["model", "task"]
    table.columns.name = None
    return table.sort_values("mean", ascending=False)


def _heat_task(runs: "pd.DataFrame") -> tuple[str, "pd.DataFrame"]:
    """The multilingual task with the most languages, as a language x model table in %."""
    recs = language_records(runs)
    task = recs.groupby("task").language.nunique().sort_values(ascending=False, kind="stable").index[0]
    one = recs[recs.task == task]
    grid = one.assign(value=100 * one.primary).pivot_table(index="language", columns="label", values="value",
                                                           aggfunc="first")
    return task, grid


def _english_gap_order(grid: "pd.DataFrame") -> list[str]:
    """Languages by the mean gap to the English figure of the same model (smallest gap first); without an English
    record, by the mean figure (highest first)."""
    english = next((c for c in ENGLISH if c in grid.index), None)
    key = (grid.loc[english] - grid).mean(axis=1) if english else -grid.mean(axis=1)
    return list(key.sort_values(kind="stable").index)


def _resource_order(task: str, grid: "pd.DataFrame") -> list[str]:
    """Languages by resource level, highest first: Babel-ImageNet's class count for the language where the task is
    Babel-ImageNet (how many ImageNet classes BabelNet could name in it), else the mean figure."""
    from tasks.registry import get_task

    spec = get_task(task)
    if spec.language_table:
        from prompts.languages import language_classes

        size = {lang: len(language_classes(spec.language_table, lang, task).classes) for lang in grid.index}
        return sorted(grid.index, key=lambda lang: (-size[lang], lang))
    return list(grid.mean(axis=1).sort_values(ascending=False, kind="stable").index)


def _heat_map(task: str, grid: "pd.DataFrame", order: list[str], how: str, plt):
    grid = grid.loc[order]
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * grid.shape[1], 0.8 + 0.28 * grid.shape[0]))
    image = ax.imshow(grid.to_numpy(dtype=float), aspect="auto", cmap="viridis")
    ax.set_yticks(range(len(grid.index)), grid.index, fontsize=7)
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=30, ha="right", fontsize=7)
    for (y, x), v in np.ndenumerate(grid.to_numpy(dtype=float)):
        if not np.isnan(v):
            ax.text(x, y, f"{v:.1f}", ha="center", va="center", fontsize=6, color="white" if v < np.nanmean(grid) else "black")
    fig.colorbar(image, ax=ax, label="%")
    ax.set_title(f"{task}: languages sorted by {how}", fontsize=9)
    return fig


def plot_languages_by_english_gap(runs: "pd.DataFrame", plt):
    task, grid = _heat_task(runs)
    return _heat_map(task, grid, _english_gap_order(grid), "the gap to English", plt)


def plot_languages_by_resource(runs: "pd.DataFrame", plt):
    task, grid = _heat_task(runs)
    return _heat_map(task, grid, _resource_order(task, grid), "resource level", plt)


def temperature_calibration(ev: "Evaluation", feats, logits: np.ndarray, weights: np.ndarray,
                            fraction: float | None) -> tuple[dict, dict]:
    """``--calibrate temperature``: one temperature fitted to the model's softmax logits (its logit scale on the
    cosines) on held-out samples, and ECE / NLL / Brier of the evaluated samples before and after it. Held out: the
    training split's features, or a seeded class-stratified ``fraction`` of the test set (whose figures are then over
    the rest)."""
    from bench.engine.calibration import fit_temperature, from_probabilities, softmax_t
    from bench.engine.sampling import stratified_subset
    from bench.engine.zeroshot import LOGIT_SCALE, zeroshot_logits

    backend = ev.backend
    if backend.probability != "softmax":
        raise UserError("--calibrate temperature scales a softmax, and this model scores each class by a sigmoid "
                        "(SigLIP): drop --calibrate")
    scale = float(backend.logit_scale) / LOGIT_SCALE
    test_logits, labels = np.asarray(logits, dtype=np.float64) * scale, np.asarray(feats.labels)
    if fraction is None:
        train = ev.features("train")
        held_logits = np.asarray(zeroshot_logits(train.features, weights), dtype=np.float64) * scale
        held_labels, keep, split = np.asarray(train.labels), np.arange(len(labels)), "train"
    else:
        held = stratified_subset(labels, max(1, int(round(fraction * len(labels)))), ev.config.seed)
        keep = np.setdiff1d(np.arange(len(labels)), held)
        held_logits, held_labels, split = test_logits[held], labels[held], f"test fraction {fraction:g}"
        if not len(keep):
            raise UserError(f"--calibration-fraction {fraction:g} leaves no test image to measure: lower it")
    t = fit_temperature(held_logits, held_labels)
    before = from_probabilities(softmax_t(test_logits[keep], 1.0), labels[keep])
    after = from_probabilities(softmax_t(test_logits[keep], t), labels[keep])
    figures = {"temperature": t, **before.as_dict(), **after.as_dict("calibrated_")}
    return figures, {"calibration": {"method": "temperature", "held_out": split, "n_held_out": int(len(held_labels)),
                                     "n_measured": int(len(keep)), "temperature": t}}


def calibration_records(runs: "pd.DataFrame") -> list:
    """(row, predictions) of the newest record per model, task, protocol and settings whose per-sample results keep
    probabilities (its top-1 confidence and the true class's probability)."""
    from bench.report.collect import newest

    out = []
    for r in newest(runs).itertuples():
        try:
            preds = r.record.predictions()
        except OSError:  # a record without its arrays (deleted, older): nothing to measure
            continue
        if "topk_prob" in preds and "true_prob" in preds and "labels" in preds:
            out.append((r, preds))
    if not out:
        raise UserError("no record keeps per-sample probabilities: zero-shot and probe runs do (`zsbench run ...`)")
    return out


def calibration_table(runs: "pd.DataFrame") -> "pd.DataFrame":
    """Rows: model, task and protocol (language and templates where not the task's own); ECE (equal mass, equal
    width), NLL and Brier from the stored probabilities, top-1, images; a ``--calibrate`` run's temperature and
    calibrated figures beside them."""
    import pandas as pd

    from bench.report.collect import task_column

    rows = []
    for r, preds in calibration_records(runs):
        cal = prediction_calibration(preds)
        m = r.record.metrics
        task = task_column(r.task, r.language) + ("" if r.task_templates else f" [{r.templates}]")
        rows.append({"model": r.label, "task": task, "protocol": r.protocol, "n": cal.n,
                     "top1": 100 * r.top1 if r.top1 is not None else None, "ECE": 100 * cal.ece,
                     "ECE (equal width)": 100 * cal.ece_equal_width, "NLL": cal.nll,
                     "Brier": cal.brier, "T": m.get("temperature"),
                     "ECE calibrated": 100 * m["calibrated_ece"] if m.get("calibrated_ece") is not None else None,
                     "NLL calibrated": m.get("calibrated_nll")})
    table = pd.DataFrame(rows).set_index(["model", "task", "protocol"])
    return table.dropna(axis=1, how="all").sort_values("ECE")


def plot_reliability(runs: "pd.DataFrame", plt):
    from bench.engine.calibration import reliability

    found = calibration_records(runs)
    counts: dict[str, int] = {}
    for r, _ in found:
        counts[r.task] = counts.get(r.task, 0) + 1
    task = sorted(counts, key=lambda t: (-counts[t], t))[0]
    chosen = [(r, p) for r, p in found if r.task == task][:4]
    fig, axes = plt.subplots(1, len(chosen), figsize=(3.2 * len(chosen), 3.4), squeeze=False)
    for ax, (r, preds) in zip(axes[0], chosen):
        cal = prediction_calibration(preds)
        top = np.asarray(preds["topk"] if "topk" in preds else preds["top5"])[:, 0]
        diagram = reliability(np.asarray(preds["topk_prob"])[:, 0], top == np.asarray(preds["labels"]))
        width = 1 / len(diagram["edge"])
        filled = diagram["count"] > 0
        ax.bar(diagram["edge"][filled], diagram["accuracy"][filled], width=width, align="edge", color="#4c72b0",
               edgecolor="white", label="accuracy")
        ax.bar(diagram["edge"][filled], diagram["confidence"][filled] - diagram["accuracy"][filled], width=width,
               bottom=diagram["accuracy"][filled], align="edge", color="#c44e52", alpha=0.35, label="gap")
        ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls="--")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("top-1 confidence")
        ax.set_title(f"{r.label}\nECE {100 * cal.ece:.1f} (equal mass), n={cal.n}", fontsize=8)
    axes[0][0].set_ylabel("accuracy")
    axes[0][0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"{task} [{chosen[0][0].protocol}]: reliability", fontsize=9)
    return fig
