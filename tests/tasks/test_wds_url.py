"""Webdataset exports at a URL (CLIP_benchmark's --dataset_root https://... and --wds_cache_dir): fetched once into a
local mirror, read exactly as the same export in a folder, and read again from the mirror with the server gone.
Served from this machine (a local HTTP server), so no network is needed."""
from __future__ import annotations

import functools
import http.server
import threading

import numpy as np
import pytest

from bench.core.errors import UserError
from helpers.wds import noise_png, write_export
from tasks.registry import get_task
from tasks.sources import DataContext, open_source
from tasks.sources.wds_url import base_url


@pytest.fixture
def served(tmp_path):
    """An export (5 classes, 2 shards' worth in one) under http://127.0.0.1:PORT/wds_colours."""
    rng = np.random.default_rng(0)
    write_export(tmp_path / "www" / "wds_colours", [f"colour {i}" for i in range(5)],
                 [noise_png(rng) for _ in range(10)], [i % 5 for i in range(10)], templates=["a {c} thing."])
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/wds_colours", server, tmp_path
    server.shutdown()


def test_an_export_at_a_url_reads_as_the_same_export_in_a_folder(served):
    url, server, tmp = served
    spec = get_task(url)
    assert spec.name == "wds_colours" and spec.kind == "classification"
    ctx = DataContext(tmp / "data", None, wds_cache=tmp / "wds-cache")   # --wds-cache-dir
    ours = open_source(spec, "test", ctx)
    local = open_source(get_task(str(tmp / "www" / "wds_colours")), "test", ctx)
    assert len(ours) == len(local) == 10 and list(ours.classes) == list(local.classes)
    assert np.array_equal(ours.targets, local.targets)
    assert all(np.array_equal(np.asarray(ours.load(i)), np.asarray(local.load(i))) for i in range(10))
    assert ours.templates == local.templates == ["a {c} thing."]
    assert any((tmp / "wds-cache").rglob("0.tar"))
    server.shutdown()  # gone: the mirror serves the next run
    again = open_source(spec, "test", ctx, fetch=False)
    assert again is not None and len(again) == 10


def test_url_forms_and_failures(tmp_path):
    assert base_url("hf://datasets/clip-benchmark/wds_cars") == \
        "https://huggingface.co/datasets/clip-benchmark/wds_cars/resolve/main"
    assert base_url("https://huggingface.co/datasets/clip-benchmark/wds_cars/tree/main") == \
        "https://huggingface.co/datasets/clip-benchmark/wds_cars/resolve/main"  # as CLIP_benchmark rewrites it
    with pytest.raises(UserError, match="cannot fetch http://127.0.0.1:9/x/dataset_type.txt"):
        get_task("http://127.0.0.1:9/x")  # nothing listens there: one line, not a traceback
