"""One self-contained static HTML page: tables, plots (embedded as data URIs) and run metadata.
No external assets, so the file can be mailed, archived or opened offline."""
from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path

import pandas as pd

from bench.core.store import atomic_write_bytes
from bench.core.errors import UserError
from bench.report.collect import default_board
from bench.report.explorer import SAMPLES_PER_TASK, THUMB_PX, Thumbnails, explorer_data, explorer_html, source_thumbnails
from bench.report.leaderboard import below_published, leaderboard, render
from bench.report.plots import make_plot
from bench.report.protocols import plot_kinds, report_sections

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}th,td{padding:.3em .6em;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f5f5f5}
.note{color:#555;font-size:.9em}.flag{color:#a33}img{max-width:100%;border:1px solid #eee;margin:.5em 0}
details{margin:.3em 0}code{background:#f5f5f5;padding:0 .2em}
"""
READY = """<script>
window.addEventListener('load',function(){var imgs=[].slice.call(document.images);
document.body.setAttribute('data-images-ok',String(imgs.length>0&&imgs.every(function(i){return i.complete&&i.naturalWidth>0})));
document.body.setAttribute('data-tables',String(document.querySelectorAll('table').length));});
</script>"""


def _section(title: str, body: str) -> str:
    return f"<h2>{html.escape(title)}</h2>\n{body}\n"


def _try(fn, *args):
    try:
        return fn(*args), None
    except UserError as exc:
        return None, str(exc)


def _metadata_table(runs: pd.DataFrame) -> str:
    rows = []
    for r in runs.itertuples():
        v, t = r.record.versions, r.record.timings
        rows.append({"created": r.created, "model": r.label, "task": r.task, "protocol": r.protocol,
                     "templates": r.templates, "n": r.n, "seed": r.seed,
                     "zsbench": v.get("zsbench"), "torch": v.get("torch"), "open_clip": v.get("open_clip_torch"),
                     "git": (v.git_commit or "")[:10], "seconds": round(sum(x for x in t.values() if x), 1)})
    return pd.DataFrame(rows).to_html(index=False, border=0, na_rep="")


def build_report(runs: pd.DataFrame, out: Path, title: str = "zsbench report", explorer: bool = True,
                 samples_per_task: int = SAMPLES_PER_TASK, thumbnails: Thumbnails | None = None,
                 progress=None) -> Path:
    """The page; with ``explorer`` (default) the interactive leaderboard, per-class views, image grids
    (``thumbnails``: each record's images from its source on this machine unless given) and A-vs-B views
    come first (:mod:`bench.report.explorer`)."""
    head, blocks = "", ""
    if explorer:
        data = explorer_data(runs, title, samples_per_task,
                             thumbnails if thumbnails is not None else source_thumbnails(THUMB_PX), progress)
        head, blocks = explorer_html(data)
    parts = [f"<h1>{html.escape(title)}</h1>", head,
             f"<p class='note'>{len(runs)} run record(s); tables read the newest record per model, task, "
             "protocol and template set. Accuracies in %.</p>"]
    headline = default_board(runs)
    lb, why = _try(leaderboard, runs, headline)
    parts.append(_section(f"{headline} leaderboard", render(lb, "html") if lb is not None else
                          f"<p class='note'>{html.escape(why)}</p>"))
    flags = below_published(runs)
    if flags:
        parts.append("<ul>" + "".join(f"<li class='flag'>{html.escape(f)}</li>" for f in flags) + "</ul>")
    for board in dict.fromkeys(runs.board):  # every other board the records join, as its protocols describe it
        table, _ = _try(leaderboard, runs, board) if board != headline else (None, None)
        if table is not None:
            parts.append(_section(f"{board} leaderboard", render(table, "html")))
    for section in report_sections(runs.protocol.unique()):  # what each protocol of the records adds
        table, _ = _try(section.table, runs)
        if table is not None:
            parts.append(_section(section.title, table.to_html(index=section.index, border=0,
                                                               float_format=lambda v: f"{v:.2f}")))
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in plot_kinds(runs.protocol.unique()):
            try:
                png = make_plot(kind, runs, Path(tmp))[0]
            except UserError as exc:
                figures.append(f"<p class='note'><b>{kind}</b>: not drawn — {html.escape(str(exc))}</p>")
                continue
            data = base64.b64encode(png.read_bytes()).decode()
            figures.append(f"<figure><img alt='{kind}' src='data:image/png;base64,{data}'><figcaption>{kind}</figcaption></figure>")
    parts.append(_section("Plots", "\n".join(figures)))
    parts.append(_section("Runs", "<details open><summary>versions, seeds, timings</summary>" + _metadata_table(runs) + "</details>"))
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}{READY}{blocks}</body></html>")
    out = Path(out)
    atomic_write_bytes(out, page.encode("utf-8"), "pass --out a file on a disk with room")
    return out
