"""``zsbench search``: the images of a folder (or a task) that best match a sentence or an example image."""
from __future__ import annotations

import argparse

from bench.commands.base import Command, path_or_none, print_json
from bench.core.errors import UserError
from bench.engine.config import add_options
from bench.core.numbers import positive_count


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("query", nargs="?", default=None, help="the sentence to search for (the raw text is embedded: no "
                                                         "template unless --templates names one)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--images", metavar="DIR", help="a folder of images (searched recursively)")
    where.add_argument("--task", help="a task's evaluation split (any `zsbench run --task` value)")
    p.add_argument("--model", required=True, help="any model string `zsbench run` takes (see `zsbench models`)")
    p.add_argument("--pretrained", help="pretrained tag, checkpoint file, or 'none' (as for `zsbench run`)")
    p.add_argument("--top", type=positive_count, default=10, help="results shown (default 10)")
    p.add_argument("--like", metavar="IMAGE", help="search by an example image instead of a sentence")
    p.add_argument("--templates", help="embed the query through a template set (e.g. openai_imagenet: the prompt "
                                       "ensemble of the query as a class name); default: the raw text")
    p.add_argument("--index", choices=["exact", "faiss"], default="exact",
                   help="exact (default: chunked scan of the memory-mapped features) or faiss (an exact inner-product "
                        "index kept in the cache; needs faiss-cpu)")
    p.add_argument("--html", metavar="FILE", help="also write the results as a self-contained page of thumbnails")
    add_options(p, "device", "batch_size", "num_workers", "cache_dir", "data_dir", "quiet", "json",
                cache_dir="feature cache (default: $ZSBENCH_CACHE or ~/.cache/zsbench); the collection's features "
                          "are kept there, shared with `zsbench run`",
                quiet="no progress bars", json='print [{"path": PATH, "score": COSINE}, ...], best first')


def execute(args: argparse.Namespace) -> int:
    from bench.apps.search import html_page, image_query, search, text_query
    from bench.core.paths import ensure_writable_dir, user_path
    from bench.engine.classifiers import attach_classifier_cache
    from bench.engine.features import FeatureExtractor
    from bench.engine.runner import data_context
    from bench.models import check_model, load_model

    if args.like is None and (args.query is None or not args.query.strip()):
        raise UserError("the query is empty: give a sentence (zsbench search \"a dog on a beach\" --images DIR ...) "
                        "or --like IMAGE")
    if args.like is not None and args.query is not None:
        raise UserError("give a sentence or --like IMAGE, not both")
    if args.html:
        ensure_writable_dir(user_path(args.html).resolve().parent, "--html")
    check_model(args.model, args.pretrained)
    templates = None
    if args.templates:
        from prompts import get_templates

        templates = get_templates(args.templates)
    ctx = data_context(path_or_none(args.cache_dir), path_or_none(args.data_dir))
    source, split = _collection(args, ctx)
    backend = attach_classifier_cache(load_model(args.model, args.pretrained, device=args.device, store=ctx.store),
                                      ctx.store)
    progress = not (args.quiet or args.json)
    backend.progress = progress
    query = image_query(backend, args.like) if args.like else text_query(backend, args.query, templates, ctx.store)
    feats = FeatureExtractor(backend, ctx.store, args.batch_size, args.num_workers, progress)(source, split, lazy=True)
    hits = search(feats.features, source.describe, query, args.top, args.index,
                  ctx.store.area("search-index") / f"{feats.info['key']}.faiss", positions=feats.indices)
    if args.html:
        title = f"{args.query or 'like ' + args.like}: {args.model} on {source.origin}"
        from bench.core.store import atomic_write_bytes

        atomic_write_bytes(user_path(args.html), html_page(title, hits, source).encode("utf-8"),
                           "pass --html a file on a disk with room")
    if args.json:
        print_json([h.to_dict() for h in hits])
        return 0
    width = max((len(h.path) for h in hits), default=0)
    for rank, hit in enumerate(hits, 1):
        print(f"{rank:>3}  {hit.score:7.4f}  {hit.path:<{width}}")
    if not args.quiet:
        print(f"{len(hits)} of {len(feats.indices):,} images; cosine of each image's embedding with the "
              f"{'image' if args.like else 'query'}'s ({args.model})" + (f"; page: {args.html}" if args.html else ""))
    return 0


def _collection(args, ctx):
    """The images searched: a folder (all its images) or a task's evaluation split."""
    if args.images:
        from tasks.sources.imagefolder import FlatFolderSource

        return FlatFolderSource(args.images), "all"
    from tasks.registry import get_task
    from tasks.sources import open_source

    spec = get_task(args.task)
    return open_source(spec, spec.split, ctx), spec.split


COMMAND = Command("search", "the images of a folder or task that best match a sentence (or an example image)",
                  "Embed a collection once (into the feature cache `run` uses) and rank it by the cosine between each "
                  "image and the raw query text's embedding, or an example image's (--like).", add_arguments, execute)
