"""``zsbench perf``: speed ratios against reference implementations, measured in the same run."""
from __future__ import annotations

import argparse
import json

from bench.apps.choices import PERF_SECTIONS
from bench.commands.base import Command
from bench.core.numbers import count
from bench.engine.config import add_options, tolerance
from typing import Any


def add_arguments(pf: argparse.ArgumentParser) -> None:
    pf.add_argument("--section", action="append", choices=list(PERF_SECTIONS),
                    help="what to measure; repeatable (default: all; zeroshot needs CLIP_benchmark, the `perf` extra)")
    pf.add_argument("--model", default="ViT-B-32", help="open_clip model for text/images/zeroshot (default ViT-B-32)")
    pf.add_argument("--pretrained", default="none", help="pretrained tag or file (default: none = random init)")
    add_options(pf, "device", "num_workers", "seed", seed="seed of the synthetic data and random-init models (0 to 4294967295; default 0)")
    pf.add_argument("--text-classes", type=count(1, 1000), default=25, help="text: ImageNet classes (x 80 templates; default 25)")
    pf.add_argument("--images", type=count(1, 10 ** 6), default=256, help="images/zeroshot: generated JPEGs (default 256)")
    pf.add_argument("--n", type=count(2, 10 ** 8), default=10000, help="probe: samples (default 10000)")
    pf.add_argument("--dim", type=count(1, 10 ** 5), default=512, help="probe: feature dimension (default 512)")
    pf.add_argument("--classes", type=count(2, 10 ** 5), default=100, help="probe: classes (default 100)")
    pf.add_argument("--tol", type=tolerance, default=1e-4, help="probe: L-BFGS gradient tolerance, both sides (default "
                                                            "1e-4, scikit-learn's and zsbench's default)")
    pf.add_argument("--memory-n", type=count(2, 10 ** 9), default=100_000, help="probe-memory: samples (default 100000)")
    pf.add_argument("--memory-dim", type=count(1, 10 ** 5), default=1024, help="probe-memory: feature dimension (default 1024)")
    pf.add_argument("--search-n", type=count(1, 10 ** 9), default=1_000_000, help="search: synthetic 512-d features (default 1000000)")
    pf.add_argument("--json", action="store_true", help="one JSON object with the ratios as numbers")


def execute(args: argparse.Namespace) -> int:
    from bench.apps.perf import run_perf
    from bench.commands import COMMANDS

    result = run_perf(args.section, model=args.model, pretrained=args.pretrained, device=args.device,
                      classes=args.classes, n=args.n, dim=args.dim, text_classes=args.text_classes,
                      images=args.images, seed=args.seed, workers=args.num_workers, memory_n=args.memory_n,
                      memory_dim=args.memory_dim, tol=args.tol, commands=COMMANDS.names(), search_n=args.search_n)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print("\n".join(perf_lines(result)))
    return 0


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
    if "multilingual" in result:
        t = result["multilingual"]
        out += [f"multilingual: {t['model']}, {len(t['languages'])} Babel-ImageNet languages ({', '.join(t['languages'])}) "
                f"x {t['classes_per_language']} classes x 80 NLLB templates ({t['prompts']} prompts):",
                f"  zsbench {t['ours_prompts_per_s']:.0f} prompts/s vs open_clip.build_zero_shot_classifier "
                f"{t['open_clip_prompts_per_s']:.0f} prompts/s -> {t['speedup']:.2f}x (max |diff| {t['max_abs_diff']:.1e})",
                "  mean tokens per prompt: " + ", ".join(f"{k} {v:.0f}" for k, v in t["mean_tokens"].items()) +
                f" of 77 (CLIP's BPE splits other scripts finely): truncation alone can give at most "
                f"{t['truncation_bound']:.2f}x",
                f"  images: the ten languages' test sets hold {t['images_per_language_sum']:,} images, "
                f"{t['images_forwarded']:,} distinct ones, each forwarded once"]
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
        if "breakdown" in z:
            out.append(f"  zsbench --profile clip_benchmark cold {z['ours_clip_benchmark_profile_seconds']:.2f} s -> "
                       f"{z['speedup_profile_vs_amp']:.2f}x CLIP_benchmark's autocast run")
            for label, parts in z["breakdown"].items():
                out.append(f"  {label:28s} " + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items()))
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
        demo = st.get("cached_demo") or {}
        if "seconds" in demo:
            out.append(f"startup: the offline demo (ConSE, CIFAR-10, 2 template sets) from the cache "
                       f"{demo['seconds']:.2f} s" + (f" (its cache was filled first: {demo['filled']:.0f} s)"
                                                      if demo.get("filled") else ""))
        elif demo:
            out.append(f"startup: the offline demo did not run: {demo['error'][0]}")
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
        if "single_fit" in p:
            f = p["single_fit"]
            out += [f"linear-probe single fit at C={f['problem']['C']:g} (median of 3): zsbench {f['ours_seconds']:.2f} s, "
                    f"sklearn lbfgs {f['sklearn_seconds']:.2f} s, ratio {f['speedup']:.2f}x; objective ours "
                    f"{f['objective']['ours']:.6f}, sklearn {f['objective']['sklearn']:.6f}; train accuracy ours "
                    f"{100 * f['train_accuracy']['ours']:.2f}, sklearn {100 * f['train_accuracy']['sklearn']:.2f}"]
        if "small_fresh" in p:
            f = p["small_fresh"]
            out += [f"linear-probe on a small problem in a fresh process ({f['problem']['n']} x {f['problem']['dim']}, "
                    f"{f['problem']['classes']} classes, imports included, median of 3): zsbench's whole C search "
                    f"{f['ours']['seconds']:.2f} s ({f['ours']['solver']} engine, torch imported: "
                    f"{'yes' if f['ours']['torch_imported'] else 'no'}), one sklearn fit {f['sklearn']['seconds']:.2f} s"]
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


COMMAND = Command("perf", "speed ratios against reference implementations, measured in one run",
                  "Text classifiers vs open_clip's build_zero_shot_classifier (or transformers' loop), image "
                  "extraction end to end vs the raw forward, a zero-shot run vs CLIP_benchmark, the probe's C sweep "
                  "vs scikit-learn, and the probe's memory in memory vs streamed.", add_arguments, execute)
