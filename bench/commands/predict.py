"""``zsbench predict``: the top classes of single images among a task's or the given class names."""
from __future__ import annotations

import argparse

from bench.commands.base import Command, path_or_none, print_json
from bench.core.errors import UserError
from bench.engine.config import add_options
from bench.report.text import format_table
from bench.core.numbers import positive_count


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", help="image files, folders of images, or http(s) URLs")
    p.add_argument("--model", required=True, help="any model string `zsbench run` takes (see `zsbench models`)")
    p.add_argument("--pretrained", help="pretrained tag, checkpoint file, or 'none' (as for `zsbench run`)")
    p.add_argument("--task", help="take the class names (and templates) of this task")
    p.add_argument("--classes", help="comma-separated class names, e.g. 'cat,dog,a red car'")
    p.add_argument("--classnames", "--classes-file", dest="classes_file",
                   help="class names: one per line, a JSON list, or a JSON object of task -> list; with --task it "
                        "replaces that task's names")
    p.add_argument("--templates", help="template set name, file, or one template with {} (default: the task's "
                                       "own with --task, else the single template 'a photo of a {}.')")
    p.add_argument("--top", type=positive_count, default=5, help="classes shown per image (default 5)")
    p.add_argument("--language", default="en", metavar="CODE",
                   help="with --task: language of names and templates (one of the task's: `zsbench tasks --languages "
                        "TASK`; not en implies clip_benchmark's)")
    add_options(p, "profile", "prompt_source", "device", "cache_dir", "quiet", "json",
                profile="whose protocol: clip (default), clip_benchmark (the export's own names, its autocast) or "
                        "datacomp (docs/reference/profiles.md)",
                prompt_source="with --task: whose names and templates (clip, the default in English, or "
                              "clip_benchmark, the default for another --language)",
                cache_dir="classifier cache (default: $ZSBENCH_CACHE or ~/.cache/zsbench)",
                quiet="no progress bars",
                json='print [{"image": PATH, "top": [{"label": NAME, "prob": P}, ...]}, ...]')


def execute(args: argparse.Namespace) -> int:
    from bench.apps.predict import expand_images, predict as predict_images
    from bench.engine.classifiers import attach_classifier_cache
    from bench.engine.config import RunConfig
    from bench.engine.runner import data_context
    from bench.models import check_model, load_model
    from bench.models.base import check_precision
    from prompts import get_classnames, get_templates

    check_model(args.model, args.pretrained)
    if bool(args.task) + bool(args.classes) + bool(args.classes_file and not args.task) != 1:
        raise UserError("predict needs one of --task NAME (optionally with --classnames FILE), --classes a,b,c or "
                        "--classnames FILE")
    images = expand_images(args.images)
    # the profile decides names, templates and precisions as for a run on the task
    config = RunConfig(tasks=[args.task] if args.task else [], profile=args.profile, prompt_source=args.prompt_source,
                       language=args.language, device=args.device)
    ctx = data_context(path_or_none(args.cache_dir), None, config.profile)
    if args.task:
        from prompts.references import check_choice
        from tasks.classes import override_classnames, task_classnames
        from tasks.registry import get_task

        from tasks.languages import languages_for

        check_choice(config.prompt_source, args.language)
        languages_for(get_task(args.task), [args.language])
        classnames, templates = task_classnames(args.task, ctx, args.templates, config.prompt_choice)
        if args.classes_file:
            classnames = override_classnames(get_task(args.task), classnames, args.classes_file)
    else:
        classnames = get_classnames(args.classes_file) if args.classes_file else \
            [c.strip() for c in args.classes.split(",") if c.strip()]
        templates = get_templates(args.templates or "single")
    check_precision(config.precision, args.device)
    check_precision(config.text_precision, args.device)
    backend = attach_classifier_cache(load_model(args.model, args.pretrained, device=args.device, store=ctx.store,
                                                 precision=config.precision), ctx.store)
    backend.progress = not (args.quiet or args.json)
    backend.text_precision = config.text_precision
    from bench.models.base import prepare_language

    prepare_language(backend, args.language, args.model)
    results = predict_images(backend, images, classnames, templates, top=args.top, store=ctx.store,
                             progress=backend.progress)
    if args.json:
        print_json([r.to_dict() for r in results])
    else:
        print("\n".join(predict_lines(results, backend, len(classnames), len(templates))))
    return 0


def predict_lines(results, backend, n_classes: int, n_templates: int) -> list[str]:
    """One small table per image: the top classes and their probabilities."""
    how = (f"{backend.probability} of {backend.logit_scale:.4g} x cosine"
           + (f" {backend.logit_bias:+.4g}" if backend.logit_bias else "")
           + f" over {n_classes} classes, {n_templates} template(s) per class")
    lines = [f"{getattr(backend, 'name', '')}: {how}"]
    for r in results:
        lines += ["", r.image, format_table([[label, f"{100 * p:.2f}%"] for label, p in r.top], ["label", "prob"], left=1)]
    return lines


COMMAND = Command("predict", "the top classes of single images (files, folders, URLs)",
                  "Classify images among a task's class names or your own, with probabilities as the model scores "
                  "them (CLIP: softmax of logit scale x cosine; SigLIP: sigmoid).", add_arguments, execute)
