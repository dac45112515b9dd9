"""Plain-text output for the terminal: run tables, robustness summaries, comparisons, perf figures.

Beside the markdown/CSV/HTML writers of this package; every function returns lines or a string
and prints nothing, so the CLI stays parsing and dispatch.
"""
from __future__ import annotations

from typing import Any, Iterable


from tasks.names import parse_task_name


def pct(value: Any, digits: int = 2) -> str:
    """A fraction as a percentage, ``-`` for a missing value."""
    return "-" if value is None else f"{100 * value:.{digits}f}"


def format_table(rows: list[list[str]], header: list[str], left: int = 4) -> str:
    """Plain-text table: the first ``left`` columns left-aligned, the (numeric) rest right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(str(c).ljust(w) if i < left else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def _cell(column, record) -> str:
    """One protocol-declared column of a record, formatted as the column says."""
    value = column.value(record)
    if value is None:
        return "-"
    if column.format == "pct":
        return pct(value)
    if column.format == "ci":
        lo, hi = value
        return f"{100 * lo:.1f}-{100 * hi:.1f}"
    if column.format == "ratio":
        return f"{value:.3f}"
    return str(value)


def records_table(records) -> str:
    """One table of records whose protocols show the same columns: model, task, how the number was
    made (the protocol's ``settings``), n, the main metric, the protocol's own columns, features."""
    from bench.report.protocols import describe

    columns = describe(records[0].protocol).columns
    header = ["model", "pretrained", "task", "protocol", "settings", "n", "main metric",
              *(c.header for c in columns), "features"]
    rows = []
    for r in records:
        protocol = describe(r.protocol)
        primary = r.metrics.get("primary")
        main = f"{pct(primary)} {r.config.get('metric', 'top1')}" if isinstance(primary, (int, float)) else "-"
        rows.append([r.model, r.pretrained, r.task, r.protocol, protocol.settings(r), str(r.n_samples), main,
                     *(_cell(c, r) for c in columns), r.task_info.get("feature_cache", "-")])
    return format_table(rows, header, left=5)


def run_lines(records, skipped, seed: int) -> list[str]:
    """What ``zsbench run`` prints: a table per column layout (protocols declare theirs), each
    protocol's notes, the units skipped for missing data, and subset notes."""
    from bench.report.protocols import describe

    groups: dict[tuple, list] = {}
    for r in records:
        groups.setdefault(describe(r.protocol).columns, []).append(r)
    lines: list[str] = []
    for group in groups.values():
        lines += ([""] if lines else []) + [records_table(group)]
    for name in dict.fromkeys(r.protocol for r in records):
        lines += describe(name).notes(records)
    lines += [f"skipped (data not on disk) {s}" for s in skipped]
    lines += [f"note: {n}" for n in dict.fromkeys(r.task_info.get("source_note") for r in records) if n]
    return lines + subset_notes(records, seed) + adaptive_lines(records)


def adaptive_lines(records) -> list[str]:
    """``--target-ci`` / ``--top``: per record the images used, the interval over the whole test set and how
    the run stopped; per top-K selection the images used by all models against a full evaluation."""
    lines, selections = [], {}
    for r in records:
        a = r.adaptive
        if a is None:
            if r.task_info.get("adaptive_note"):
                lines.append(f"note: {r.task}: {r.task_info['adaptive_note']}")
            continue
        lo, hi = a["interval"]
        sel = a.get("selection")
        how = (f"top-{sel['k']} selection: {sel['status']}" if sel else a.get("note") if a.get("note") else
               "the whole test set was needed (the figure is exact)" if a["n"] >= a["N"] else "target reached")
        lines.append(f"adaptive: {r.model} {r.pretrained} {r.task}: {a['metric']} in [{pct(lo)}, {pct(hi)}] "
                     f"({a['confidence']:.0%} anytime-valid, whole test set) from {a['n']:,} of {a['N']:,} images; "
                     f"{how}")
        if sel:
            selections[(r.task, r.templates)] = sel
    for (task, _), sel in selections.items():
        lines.append(f"adaptive: {task}: {sel['images_all_models']:,} images evaluated over {sel['models']} models "
                     f"instead of {sel['images_full']:,} ({sel['images_full'] / max(1, sel['images_all_models']):.1f}x "
                     "fewer)")
    return lines


def subset_notes(records, seed: int) -> list[str]:
    subsets = {(r.task, r.n_samples, r.task_info["dataset_size"]) for r in records
               if r.config.get("subset") not in ("full", "adaptive")}
    return [f"note: {task} used a class-stratified subset of {n} of {total} samples (seed {seed}, --limit)"
            for task, n, total in sorted(subsets)]


def robustness_lines(scores, skipped: Iterable[str]) -> list[str]:
    """The per-shift table, each suite's averages (the effective-robustness step) and skipped shifts."""
    from bench.engine.robustness import summary_lines

    probe = any(s.probe_top1 is not None for s in scores)
    header = ["shift", "n", "top1", "id top1", "predicted", "eff. rob.", "ood/id"] + \
        (["probe top1", "probe id", "probe eff. rob."] if probe else []) + ["id measured on"]
    rows = [[s.task, str(s.n), pct(s.top1), pct(s.id_top1), pct(s.predicted), pct(s.effective_robustness),
             "-" if s.relative_robustness is None else f"{s.relative_robustness:.3f}"] +
            ([pct(s.probe_top1), pct(s.probe_id_top1), pct(s.probe_effective_robustness)] if probe else []) +
            [s.id_basis] for s in scores]
    lines = [format_table(rows, header, left=1)] if rows else ["no shift could be scored"]
    lines += summary_lines(scores)
    lines += [f"skipped (data not on disk) {s}" for s in skipped]
    return lines


def fits_lines(fits: dict, saved_to: str) -> list[str]:
    return [f"{shift}: {fit.describe()}, r {fit.r}" for shift, fit in fits.items()] + [f"saved: {saved_to} (used by later robustness runs there)"]


def comparison_lines(comparisons) -> list[str]:
    from bench.report.compare import as_table, summary

    table = as_table(comparisons)
    rows = [[t, r["metric"], str(r["n"]), f"{r['acc_a']:.2f}", f"{r['acc_b']:.2f}", f"{r['diff']:+.2f}",
             f"[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]", f"{r['p_value']:.3g}", f"{r['p_holm']:.3g}", r["verdict"]]
            for t, r in table.iterrows()]
    return [format_table(rows, ["task", "metric", "n", "A %", "B %", "A-B", "95% CI (bootstrap)",
                                "p (McNemar/bootstrap)", "p Holm", "verdict"], left=2), summary(comparisons)]


def models_table(rows: list[tuple[str, str, str]]) -> str:
    return format_table([list(r) for r in rows], ["model", "pretrained", "note"])


def tasks_table(specs, status: dict[str, dict[str, str]]) -> list[str]:
    """One line per task; generated shift tasks folded into one line per suite unless ``status``."""
    rows, families = [], {}
    for s in specs:
        name = parse_task_name(s.name)
        if name.is_generated and not status:
            families[name.base] = families.get(name.base, 0) + 1
            continue
        sizes = " ".join(f"{k} {v:,}" for k, v in s.sizes.items()) or "-"
        row = [s.name, str(s.n_classes or "-"), sizes, s.metric, "/".join(src.type for src in s.sources)]
        if status:
            row.append(" ".join(f"{k}:{v}" for k, v in status[s.name].items()))
        rows.append(row + [s.description])
    header = ["task", "classes", "published sizes", "metric", "sources"] + (["on disk"] if status else []) + ["description"]
    lines = [format_table(rows, header, left=len(header))]
    lines += [f"{family}/<corruption>/<severity>: {count} generated shift tasks (see `zsbench robustness --suite "
              f"{family}`)" for family, count in families.items()]
    if not status:
        lines.append("\n(--local checks which datasets are already on disk; `zsbench tasks show NAME` prints one spec)")
    return lines


def perf_lines(result: dict[str, Any]) -> list[str]:
    """The ``zsbench perf`` figures, each ratio beside the reference measured in the same run."""
    out: list[str] = []
    if "text" in result and "reference" in result["text"]:
        t = result["text"]
        out += [f"text: {t['model']} prompt-ensemble classifier, {t['classes']} ImageNet classes x 80 templates "
                f"({t['prompts']} prompts, mean {t['mean_tokens']:.1f} tokens, padding {t['padding']}):",
                f"  zsbench {t['ours_seconds']:.2f} s vs {t['reference']} {t['reference_seconds']:.2f} s -> "
                f"{t['speedup']:.2f}x (max |diff| {t['max_abs_diff']:.1e}; causal tower, each batch cut to its "
                f"longest prompt: {t['truncated_path']})"]
    elif "text" in result:
        t = result["text"]
        out += [f"text: {t['model']} prompt-ensemble classifier, {t['classes']} ImageNet classes x 80 templates "
                f"({t['prompts']} prompts, mean {t['mean_tokens']:.1f} of {t['context_length']} tokens):",
                f"  zsbench {t['ours_seconds']:.2f} s vs open_clip.build_zero_shot_classifier "
                f"{t['open_clip_seconds']:.2f} s -> {t['speedup']:.2f}x (max |diff| {t['max_abs_diff']:.1e}; "
                f"truncated path: {t['truncated_path']})",
                f"  {t['gflops_per_prompt_full']:.2f} GFLOP per 77-token prompt; open_clip runs at "
                f"{t['open_clip_gflops_per_s']:.0f} GFLOP/s; full ImageNet classifier "
                f"~{t['imagenet_estimate_seconds']['ours']:.0f} s vs ~{t['imagenet_estimate_seconds']['open_clip']:.0f} s"]
    if "images" in result:
        i = result["images"]
        out.append(f"images: {i['model']}, {i['images']} JPEGs (400x300), batch {i['batch_size']}: end to end "
                   f"{i['end_to_end_images_per_s']:.1f} img/s vs raw forward {i['raw_forward_images_per_s']:.1f} img/s "
                   f"-> {i['ratio_end_to_end_vs_raw']:.2f}x; {i['gflops_per_image']:.2f} GFLOP/image, "
                   f"{i['achieved_gflops_per_s']:.0f} GFLOP/s in the forward pass" +
                   (f" = {100 * i['share_of_peak']:.0f}% of the estimated fp32 peak {i['peak_gflops_per_s']:.0f} GFLOP/s "
                    f"({i['peak_basis']})" if i.get("share_of_peak") else ""))
        out += [f"  {label:13s} raw forward {v['images_per_s']:.1f} img/s -> {v['speedup_vs_fp32']:.2f}x fp32; "
                f"{100 * v['prediction_agreement']:.2f}% of zero-shot predictions unchanged (top-1 moves at most "
                f"{v['max_top1_change_points']:.2f} pt; min cosine {v['min_cosine_vs_fp32']:.4f})"
                for label, v in i["variants"].items()]
    if "zeroshot" in result:
        z = result["zeroshot"]
        out.append(f"zero-shot: {z['model']}, {z['images']} images x {z['templates']} templates: zsbench cold "
                   f"{z['ours_cold_seconds']:.2f} s, warm {z['ours_warm_seconds']:.2f} s; CLIP_benchmark "
                   f"{z['clip_benchmark_seconds']:.2f} s (fp32) -> {z['speedup_cold']:.2f}x cold, "
                   f"{z['speedup_warm']:.1f}x warm; repeat run {z['repeat_speedup']:.0f}x faster; top-1 ours "
                   f"{100 * z['top1']['ours']:.2f} / CLIP_benchmark {100 * z['top1']['clip_benchmark']:.2f}; "
                   f"CLIP_benchmark with its default autocast {z['clip_benchmark_amp_seconds']:.2f} s, top-1 "
                   f"{100 * z['top1']['clip_benchmark_amp']:.2f}")
    if "data" in result:
        d = result["data"]
        out.append(f"data: {d['images']} {d['image_size']}s, {d['model']}: decode + preprocess "
                   f"{d['decode_preprocess_images_per_s']:.1f} img/s vs forward {d['forward_images_per_s']:.1f} img/s "
                   f"({d['decode_vs_forward']:.2f}x); --decode tensor on {d['tensor_decode_device']}: "
                   f"{d['tensor_decode_images_per_s']:.1f} img/s")
        for label, rows in (("pixel cache off", d["without_cache"]), ("pixel cache on ", d["with_cache"])):
            out.append(f"  {label}: " + "; ".join(f"model {i + 1} {r['seconds']:.1f} s (data {r['data_seconds']:.1f} s)"
                                                  for i, r in enumerate(rows)))
        out.append(f"  {d['models']} models {d['total_speedup']:.2f}x faster with the cache; later models' data time "
                   f"{', '.join(f'{100 * x:.0f}%' for x in d['later_models_data_share'])} of the first's; identical "
                   f"features: {d['identical_features']}")
    if "search" in result:
        q = result["search"]
        line = (f"search: {q['features']:,} x {q['dim']}-d features (memory-mapped chunks), top {q['k']}: exact "
                f"{q['exact_ms_per_query']:.0f} ms/query")
        if q.get("faiss_ms_per_query") is not None:
            line += (f"; faiss IndexFlatIP {q['faiss_ms_per_query']:.0f} ms/query (build {q['faiss_build_seconds']:.1f} s, "
                     f"same top {q['k']}: {q['faiss_same_top_k']})")
        else:
            line += "; faiss not installed (pip install faiss-cpu)"
        out.append(line)
    if "forward" in result:
        f = result["forward"]
        peak = f"{f['peak_gflops_per_s']:.0f}" if f.get("peak_gflops_per_s") else "?"
        gemm = ", ".join(f"{k} {v:.0f}" for k, v in f.get("gemm_ceiling_gflops_per_s", {}).items())
        out.append(f"forward: {f['model']} image tower, {f['gflops_per_image']:.2f} GFLOP/image, estimated fp32 peak "
                   f"{peak} GFLOP/s ({f['peak_basis']})" + (f", measured 2048^2 GEMM GFLOP/s: {gemm}" if gemm else "")
                   + f", {f['threads']} threads:")

        def row(label, v):
            share = f"{100 * v['share_of_peak']:.0f}% of peak" if v.get("share_of_peak") else ""
            if v.get("share_of_gemm_ceiling"):
                share += f", {100 * v['share_of_gemm_ceiling']:.0f}% of the GEMM ceiling"
            return (f"  {label:34s} {v['images_per_s']:6.1f} img/s {v['gflops_per_s']:5.0f} GFLOP/s {share}; max |diff| "
                    f"vs eager {v['max_abs_diff_vs_eager']:.1e}" +
                    (f"; {v['speedup_vs_eager']:.2f}x eager" if "speedup_vs_eager" in v else ""))
        out += [row(f"eager batch {bs}", v) for bs, v in f["eager"].items()]
        out += [row(f"{f['default_forward']} batch {bs}" + (" (default)" if int(bs) == f["default_batch_size"] else ""),
                    v) for bs, v in f["default"].items()]
        out.append(row(f"jit.freeze batch {f['default_batch_size']}", f["jit_freeze"]))
        if "torch_compile" in f:
            out.append(row(f"torch.compile batch {f['default_batch_size']}", f["torch_compile"]) +
                       f" (compiling: {f['compile_seconds']:.0f} s)")
    if "startup" in result:
        st = result["startup"]
        out.append(f"startup: zsbench --help {st['help']:.2f} s; slowest command --help {st['slowest_help']:.2f} s; "
                   f"a fully cached run {st['cached_run']:.2f} s (fresh processes, median of 3)")
    if "probe" in result:
        p = result["probe"]
        prob = p["problem"]
        out += [f"linear-probe C sweep ({prob['fits']} fits, {prob['n']} x {prob['dim']} features, "
                f"{prob['classes']} classes, tol {prob['tol']:g}):",
                f"  zsbench LogisticProbe     {p['ours_seconds']:8.2f} s",
                f"  sklearn lbfgs, cold fits  {p['sklearn_cold_seconds']:8.2f} s   ratio {p['speedup_vs_sklearn_cold']:.2f}x",
                f"  sklearn lbfgs, warm start {p['sklearn_warm_seconds']:8.2f} s   ratio {p['speedup_vs_sklearn_warm']:.2f}x",
                f"  chosen C: ours {p['best_C']['ours']:.4g}, sklearn {p['best_C']['sklearn']:.4g}; test accuracy: "
                f"ours {100 * p['test_accuracy']['ours']:.2f}, sklearn {100 * p['test_accuracy']['sklearn']:.2f}"]
    if "probe_memory" in result:
        m = result["probe_memory"]
        prob, gib = m["problem"], 2.0 ** 30
        est = m["imagenet_estimate_bytes"]
        out += [f"linear-probe memory ({prob['n']} x {prob['dim']} features = {prob['feature_bytes'] / gib:.2f} GiB, "
                f"{prob['classes']} classes, {prob['iterations']} L-BFGS iterations, peak above the interpreter):",
                f"  in memory      {m['in_memory']['peak_bytes'] / gib:6.2f} GiB "
                f"({m['in_memory_copies_of_features']:.1f}x the features)  {m['in_memory']['seconds']:7.1f} s",
                f"  streamed       {m['streamed']['peak_bytes'] / gib:6.2f} GiB (one block, any n)  "
                f"{m['streamed']['seconds']:7.1f} s   time ratio {m['seconds_ratio_streamed_vs_memory']:.2f}x; "
                f"same fit: {m['same_fit']}",
                f"  ImageNet train (1.28M x 1024): ~{est['in_memory'] / gib:.1f} GiB in memory, "
                f"~{est['streamed'] / gib:.1f} GiB streamed"]
    out += [f"{section}: skipped: {why}" for section, why in result.get("skipped", {}).items()]
    return out


def predict_lines(results, backend, n_classes: int, n_templates: int) -> list[str]:
    """One small table per image: the top classes and their probabilities."""
    how = (f"{backend.probability} of {backend.logit_scale:.4g} x cosine"
           + (f" {backend.logit_bias:+.4g}" if backend.logit_bias else "")
           + f" over {n_classes} classes, {n_templates} template(s) per class")
    lines = [f"{getattr(backend, 'name', '')}: {how}"]
    for r in results:
        lines += ["", r.image, format_table([[label, f"{100 * p:.2f}%"] for label, p in r.top], ["label", "prob"], left=1)]
    return lines


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def sweep_plan_lines(jobs, models, tasks: list[str], folder: str, executor: str) -> list[str]:
    """``--dry-run``: each job with the image forwards, text prompts and time it needs."""
    rows = [[j.name, j.model.label, str(len(j.tasks)), f"{j.images:,}", f"{j.prompts:,}", _duration(j.seconds),
             j.estimate] for j in jobs]
    total = sum(j.seconds for j in jobs)
    lines = [f"sweep plan: {len(models)} model(s) x {len(tasks)} task(s) -> {len(jobs)} job(s) on {executor}; "
             f"folder {folder}"]
    if rows:
        lines.append(format_table(rows, ["job", "model", "tasks", "images", "prompts", "estimate", "basis"], left=2))
    lines.append(f"total estimate {_duration(total)} of compute" + (" (nothing left to do: every record exists)"
                                                                     if not jobs else ""))
    return lines


SYMBOLS = {"done": "done", "running": "run", "failed": "FAIL", "lost": "LOST", "missing": "-"}


def sweep_status_lines(labels, tasks, grid, left: float, names) -> list[str]:
    """The model x task grid of a sweep, counts, failures with their reasons, and the cost left."""
    rows = [[label] + [SYMBOLS[grid[(label, t)].state] if (label, t) in grid else "" for t in tasks] for label in labels]
    counts: dict[str, int] = {}
    for cell in grid.values():
        counts[cell.state] = counts.get(cell.state, 0) + 1
    lines = [f"sweep(s) {', '.join(names)}: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in SYMBOLS) +
             f" of {len(grid)}; estimated compute left {_duration(left)}",
             format_table(rows, ["model"] + list(tasks), left=1)]
    for state in ("failed", "lost"):
        ended = {(m, c.reason) for (m, t), c in grid.items() if c.state == state}
        lines += [f"{state}: {m}: {reason}" for m, reason in sorted(ended)]
    lines += [f"running: {m} / {t}: {c.reason}" for (m, t), c in grid.items() if c.state == "running"]
    return lines


def doctor_lines(d) -> list[str]:
    """The doctor's report: the record re-scored, then every variant ranked, with its cost."""
    lines = [f"{d.model} on {d.task} ({d.metric}, {d.n_samples:,} samples, {d.subset}): recorded {pct(d.recorded)}, "
             f"re-scored here {pct(d.rescored)}" + (f", expected {pct(d.expected)} (gap {100 * d.gap:+.2f})"
                                                     if d.expected is not None else "")]
    if abs(d.recorded - d.rescored) > 1e-9 and d.subset == "full":
        lines.append("note: the re-scored value differs from the record's (other data or cache than the record's?)")
    rows = []
    for f in d.ranked():
        closes = f.closes(d.gap)
        rows.append([f.variant, f.group, pct(f.value), f"{100 * f.delta:+.2f}",
                     "-" if closes is None else f"{100 * closes:.0f}%", f"{f.seconds:.1f} s", f.cost])
    if rows:
        lines += ["", format_table(rows, ["variant", "kind", d.metric, "change", "of the gap", "time", "computed"],
                                   left=2)]
    skipped = [f for f in d.findings if f.delta is None]
    lines += [f"not tried: {f.variant}: {f.note}" for f in skipped]
    best = d.ranked()[:1]
    if best and d.expected is not None:
        f = best[0]
        lines.append(f"closest to the expected figure: {f.variant} ({pct(f.value)}; leaves "
                     f"{100 * (d.gap - f.delta):+.2f} points)")
    return lines


def samples_lines(out: dict[str, Any], asked: list[str], top: int) -> list[str]:
    """``zsbench samples``: one table per question asked."""
    lines = [f"{out['task']}: {out['samples']:,} samples x {len(out['models'])} model record(s): "
             + "; ".join(out["models"])]
    if "label_issues" in asked:
        issues = out["issues"]
        lines += ["", f"likely label errors: {len(issues):,} flagged (most likely first)"]
        lines.append(format_table([[str(i + 1), x["key"], x["label"], x["suggested"], f"{x['score']:.3f}"]
                                   for i, x in enumerate(issues[:top])], ["#", "key", "given", "suggested", "score"],
                                  left=4))
    if "without_issues" in asked:
        rows = out["without_issues"]
        left = rows[0]["n"] - rows[0]["n_without"] if rows else 0
        lines += ["", f"top-1 without the {left:,} flagged samples (%, Wilson 95% interval; rank 1 = best)"]
        lines.append(format_table([[r["model"], f"{r['top1']:.2f} [{r['interval'][0]:.2f}, {r['interval'][1]:.2f}]",
                                    f"{r['top1_without']:.2f} [{r['interval_without'][0]:.2f}, "
                                    f"{r['interval_without'][1]:.2f}]", str(r["rank"]), str(r["rank_without"]),
                                    f"{r['rank_change']:+d}" if r["rank_change"] else "="]
                                   for r in rows[:max(top, 1)]],
                                  ["model", "top-1 all", "top-1 without issues", "rank", "rank without", "change"],
                                  left=1))
    for name, title in (("hard", "no model right"), ("disagree", "models disagree")):
        if name in asked:
            rows = out[name]
            lines += ["", f"{title}: {len(rows):,} samples"]
            lines.append(format_table([[r["key"], r["label"], f"{r['difficulty']:.2f}",
                                        "; ".join(f"{m.split(' [')[0]}: {p}" for m, p in r["predictions"].items())]
                                       for r in rows[:top]], ["key", "label", "difficulty", "predictions"], left=4))
    if "confusions" in asked:
        lines += ["", "most confused class pairs (true -> predicted), all models"]
        lines.append(format_table([[c["true"], c["predicted"], str(c["total"]),
                                    "; ".join(f"{m.split(' [')[0]}: {n}" for m, n in c["per_model"].items())]
                                   for c in out["confusions"][:top]], ["true", "predicted", "count", "per model"],
                                  left=4))
    if "per_class" in asked:
        models = out["models"]
        lines += ["", "top-1 per class (%)"]
        lines.append(format_table([[c] + ["-" if v.get(m) is None else f"{v[m]:.1f}" for m in models]
                                   for c, v in list(out["per_class"].items())[:max(top, 1)]],
                                  ["class"] + [m.split(" [")[0] for m in models], left=1))
    return lines
