"""The fast paths give the slow paths' results: truncated text tower, sharded extraction."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch

from prompts import build_classifier, get_templates
from prompts.text_tower import encode_text_truncated, truncatable_tower
from helpers.forward import assert_forward_close

REPO = Path(__file__).resolve().parents[2]
PROMPTS = ["a", "a photo of a dog.", "a bad photo of the great white shark.",
           "itap of a " + "very " * 80 + "long thing.",            # truncated by the tokenizer at 77 tokens
           "a low resolution photo of the tench, a type of fish, swimming in a pond near the old mill."]


@pytest.fixture(scope="module", params=["ViT-S-32", "RN50"])
def model(request):
    torch.manual_seed(0)
    m = open_clip.create_model(request.param, pretrained=None).eval()
    return m, open_clip.get_tokenizer(request.param)


def test_truncated_tower_equals_full(model):
    m, tok = model
    tower = truncatable_tower(m)
    assert tower is not None
    tokens = tok(PROMPTS)
    assert int(tokens.argmax(-1).max()) == 76  # one prompt reaches the 77-token limit
    with torch.no_grad():
        full, fast = m.encode_text(tokens), encode_text_truncated(tower, tokens)
        short = tok(PROMPTS[:3])  # a batch whose longest prompt is short: real truncation
        assert int(short.argmax(-1).max()) < 15
        assert torch.allclose(m.encode_text(short), encode_text_truncated(tower, short), atol=1e-5)
    assert torch.allclose(full, fast, atol=1e-5)


@pytest.mark.slow
def test_classifier_with_truncation_equals_open_clip(model):
    m, tok = model
    names = ["tench", "goldfish", "great white shark", "a very long class name with many words in it"]
    templates = get_templates("openai_imagenet")[:20]
    ours = build_classifier(m, tok, names, templates)
    ref = open_clip.build_zero_shot_classifier(m, tok, names, templates, num_classes_per_batch=2, device="cpu")
    assert torch.allclose(ours, ref.float(), atol=1e-5)
    slow = build_classifier(m, tok, names, templates, truncate=False)
    assert torch.allclose(ours, slow, atol=1e-5)


@pytest.mark.slow
def test_towers_that_are_not_causal_argmax_fall_back():
    coca = open_clip.create_model("coca_ViT-B-32", pretrained=None)  # appended class token
    assert truncatable_tower(coca) is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SCRIPT = """
import sys, numpy as np, torch
from bench.core.store import Store
from bench.engine.distributed import init_from_env, is_main, world
from bench.engine.features import extract_features
from bench.models import load_model
from tasks.sources import ImageFolderSource
folder, cache, out = sys.argv[1:4]
init_from_env("cpu")
torch.set_num_threads(1)
backend = load_model("ViT-S-32", "none", device="cpu", seed=0, store=Store(cache))
fs = extract_features(backend, ImageFolderSource(folder), "all", store=Store(cache), batch_size=4,
                      num_workers=0, progress=False, chunk_size=4)
np.savez(out + f".rank{world()[0]}.npz", features=fs.features, labels=fs.labels, indices=fs.indices,
         computed=fs.info["computed"])
"""


@pytest.mark.slow
def test_torchrun_two_processes_equal_one(tmp_path):
    script = tmp_path / "extract.py"
    script.write_text(SCRIPT)
    images = str(REPO / "examples" / "shapes" / "images")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, str(script), images, str(tmp_path / "c1"), str(tmp_path / "one")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", str(_free_port()), str(script), images, str(tmp_path / "c2"),
                          str(tmp_path / "two")], env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[:3000]
    ref = np.load(tmp_path / "one.rank0.npz")
    ranks = [np.load(tmp_path / f"two.rank{r}.npz") for r in (0, 1)]
    for got in ranks:  # every rank ends with the whole, identical result
        assert_forward_close(got["features"], ref["features"])  # other batch shapes: float rounding only
        assert np.array_equal(got["indices"], ref["indices"]) and np.array_equal(got["labels"], ref["labels"])
    assert int(ranks[0]["computed"]) + int(ranks[1]["computed"]) == len(ref["labels"]) == 18
    assert 0 < int(ranks[1]["computed"]) < 18  # the work was split


PERF_KEYS = {
    "text": ["ours_seconds", "open_clip_seconds", "speedup", "max_abs_diff", "gflops_per_prompt_full"],
    "images": ["end_to_end_images_per_s", "raw_forward_images_per_s", "ratio_end_to_end_vs_raw", "gflops_per_image",
               "achieved_gflops_per_s"],
    "zeroshot": ["ours_cold_seconds", "ours_warm_seconds", "clip_benchmark_seconds", "speedup_cold", "speedup_warm",
                 "repeat_speedup"],
    "probe": ["ours_seconds", "sklearn_cold_seconds", "speedup_vs_sklearn_cold", "speedup_vs_sklearn_warm"],
    "data": ["decode_preprocess_images_per_s", "forward_images_per_s", "decode_vs_forward", "total_speedup",
             "tensor_decode_images_per_s"],
    "search": ["exact_ms_per_query", "exact_prepare_seconds"],
}


@pytest.mark.slow
@pytest.mark.parametrize("section", list(PERF_KEYS))  # one section per test: pytest-xdist spreads them
def test_perf_json_has_the_documented_keys(tmp_path, section):
    """Keys and types only: speed itself lives in the benchmark, never in a test assert."""
    import json

    from helpers.cli import run_cli as zsbench

    # (probe-memory has its own test with small sizes)
    out = zsbench("perf", "--json", "--section", section, "--model", "ViT-S-32", "--text-classes", "2", "--images",
                  "16" if section != "data" else "8", "--n", "400", "--dim", "16", "--classes", "4", "--workers", "0",
                  "--search-n", "20000", cache=tmp_path, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    for key in PERF_KEYS[section]:
        assert isinstance(result[section][key], float), (section, key)
    if section == "images":
        for variant in ("bf16", "channels_last"):
            for key in ("images_per_s", "speedup_vs_fp32", "prediction_agreement", "max_top1_change_points",
                        "min_cosine_vs_fp32"):
                assert isinstance(result["images"]["variants"][variant][key], float), (variant, key)
    if section == "text":
        assert result["text"]["max_abs_diff"] < 1e-5
    if section == "data":  # the pixel cache changes no feature
        assert result["data"]["identical_features"] is True and len(result["data"]["with_cache"]) == 3
    if section == "search":
        assert result["search"]["faiss_same_top_k"] is True  # faiss-cpu is a test dependency
    if section == "zeroshot":
        assert result["zeroshot"]["top1"]["ours_warm"] == result["zeroshot"]["top1"]["ours"]
        assert result["zeroshot"]["top1"]["ours"] == result["zeroshot"]["top1"]["clip_benchmark"]
