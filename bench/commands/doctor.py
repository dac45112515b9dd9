"""``zsbench doctor``: why a zero-shot number differs from a paper's; re-score variants of a record."""
from __future__ import annotations

import argparse

from bench.apps.choices import DOCTOR_GROUPS
from bench.commands.base import Command, add_quiet, path_or_none, print_json
from bench.core.errors import UserError
from bench.engine.config import add_options
from bench.report.text import format_table, pct
from bench.core.numbers import real


def add_arguments(dr: argparse.ArgumentParser) -> None:
    dr.add_argument("record", help="a zero-shot run record (results/runs/*.json)")
    dr.add_argument("--expect", type=real(0.0, 100.0), metavar="PERCENT",
                    help="the figure you expected (e.g. 63.3, in %%: 0 to 100); --published takes open_clip's published one")
    dr.add_argument("--published", action="store_true", help="expect open_clip's published figure for the record's "
                                                             "checkpoint and task")
    dr.add_argument("--only", action="append", choices=list(DOCTOR_GROUPS),
                    help="variant groups to try; repeatable (default: all)")
    dr.add_argument("--task", help="the record's task, if it is neither registered nor at the path it was read from")
    add_options(dr, "profile", "limit", "cache_dir", "data_dir", "device", "num_workers", "json",
                profile="re-score under this profile instead of the record's (its names, templates and precisions; "
                        "the other profiles' differences are variants either way)",
                limit="score on a seeded class-stratified subset of N samples (all variants and the record's own "
                      "configuration alike; default: the record's)",
                cache_dir="cache (default: the record's)", data_dir="dataset folder (default: the record's)",
                json="the diagnosis as JSON")
    add_quiet(dr)


def execute(args: argparse.Namespace) -> int:
    from bench.apps.doctor import Doctor, published_figure
    from bench.engine.records import read_record

    if args.expect is not None and args.published:
        raise UserError("give --expect PERCENT or --published, not both")
    expected = args.expect / 100 if args.expect is not None else None
    if args.published:
        rec = read_record(args.record)
        expected = published_figure(rec)
        if expected is None:
            raise UserError(f"open_clip publishes no figure for {rec.model} / {rec.pretrained} on {rec.task}: "
                            "give --expect PERCENT")
    quiet = args.quiet or args.json
    diagnosis = Doctor(args.record, path_or_none(args.cache_dir), path_or_none(args.data_dir), limit=args.limit,
                       device=args.device, workers=args.num_workers, progress=not quiet,
                       task=args.task, profile=args.profile).run(expected, tuple(args.only or DOCTOR_GROUPS))
    if args.json:
        print_json(diagnosis.to_dict())
    else:
        print("\n".join(doctor_lines(diagnosis)))
    return 0


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


COMMAND = Command("doctor", "why a zero-shot number differs from a paper's: re-score variants of a record, ranked, "
                            "with their cost",
                  "Re-scores the record's own configuration from the caches (it must match), then one variant at a "
                  "time (class names, templates, text pooling, preprocessing, precision, QuickGELU, ConSE settings, each "
                  "difference of another evaluation profile), "
                  "ranked by closeness to the expected figure, with the time each took.", add_arguments, execute)
