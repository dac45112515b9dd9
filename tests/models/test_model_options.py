"""Model cards (runs served from the cache never load the model), image-encoder precision and
layout options, and the out-of-memory batch splitter."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from bench.core.errors import UserError
from bench.engine.features import FittingEncoder, extract_features
from bench.models import load_model
from bench.models.openclip import CARD_AREA, OpenCLIPBackend
from bench.engine.runner import RunConfig, run
from helpers.forward import assert_forward_close
from helpers.startup import NO_TORCH


@pytest.mark.slow
def test_second_load_reads_the_card_and_loads_only_when_encoding(store, vit_s32_checkpoint):
    eager = load_model("ViT-S-32", str(vit_s32_checkpoint), store=store)
    assert eager.loaded
    lazy = load_model("ViT-S-32", str(vit_s32_checkpoint), store=store)
    assert not lazy.loaded
    for attr in ("fingerprint", "text_fingerprint", "preprocess_id", "embed_dim"):
        assert getattr(lazy, attr) == getattr(eager, attr), attr
    assert lazy.info() == eager.info()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.equal(lazy.encode_images(x), eager.encode_images(x))
    assert lazy.loaded


@pytest.mark.slow
def test_a_run_served_from_the_cache_never_builds_the_model(tiny_folder, tmp_path, monkeypatch):
    config = RunConfig(models=[("ViT-S-32", "none")], tasks=[str(tiny_folder)], templates=["single"],
                       progress=False, no_save=True, cache_dir=tmp_path / "cache")
    first = run(config)[0]

    def no_load(self):
        raise AssertionError("the model was loaded although everything was cached")

    monkeypatch.setattr(OpenCLIPBackend, "_load", no_load)
    second = run(config)[0]
    assert second.task_info["feature_cache"] == second.task_info["classifier_cache"] == "hit"
    assert second.metrics["top1"] == first.metrics["top1"]
    assert second.model_info == first.model_info


@pytest.mark.slow
def test_a_card_that_disagrees_with_the_model_is_dropped(store):
    load_model("ViT-S-32", "none", seed=3, store=store)
    (card_file,) = store.area(CARD_AREA).glob("*.json")
    card = json.loads(card_file.read_text())
    card["fingerprint"] = "0" * 20
    card_file.write_text(json.dumps(card))
    stale = load_model("ViT-S-32", "none", seed=3, store=store)
    with pytest.raises(RuntimeError, match="does not match"):
        stale.encode_texts(["a cat"])
    assert not card_file.exists()
    assert load_model("ViT-S-32", "none", seed=3, store=store).fingerprint != "0" * 20


@pytest.mark.slow
def test_bf16_autocast_is_close_cached_apart_and_shares_the_classifier(store):
    fp32 = load_model("ViT-S-32", "none", store=store)
    bf16 = load_model("ViT-S-32", "none", store=store, precision="bf16")
    assert bf16.fingerprint != fp32.fingerprint and bf16.text_fingerprint == fp32.text_fingerprint
    assert bf16.info()["precision"] == "bf16"
    x = torch.randn(4, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        a, b = fp32.encode_images(x), bf16.encode_images(x)
        assert b.dtype == torch.float32
        assert not torch.equal(a, b)  # autocast really ran
        assert torch.nn.functional.cosine_similarity(a, b).min() > 0.99
        assert torch.equal(fp32.encode_texts(["a cat"]), bf16.encode_texts(["a cat"]))


@pytest.mark.slow
def test_channels_last_gives_the_same_features_on_a_conv_net(store):
    plain = load_model("RN50", "none", store=store)
    cl = load_model("RN50", "none", store=store, channels_last=True)
    assert cl.fingerprint != plain.fingerprint and cl.info()["channels_last"]
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.allclose(plain.encode_images(x), cl.encode_images(x), atol=1e-4, rtol=1e-4)


def test_fp16_on_cpu_is_refused_with_the_fix():
    with pytest.raises(UserError, match="bf16 on CPU"):
        load_model("ViT-S-32", "none", precision="fp16")
    with pytest.raises(UserError, match="unknown precision 'fp8'"):
        load_model("ViT-S-32", "none", precision="fp8")


class OOMAbove:
    """A per-row encoder that runs out of memory for batches larger than ``fits``."""

    def __init__(self, fits: int, message: str = "CUDA out of memory. Tried to allocate 2.00 GiB"):
        self.fits, self.message, self.sizes = fits, message, []

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        self.sizes.append(len(pixels))
        if len(pixels) > self.fits:
            raise RuntimeError(self.message)
        return pixels.flatten(1).sum(1, keepdim=True) * torch.ones(1, 3)


def test_out_of_memory_halves_the_batch_and_keeps_every_row():
    x = torch.arange(20 * 2, dtype=torch.float32).reshape(20, 2, 1, 1)
    enc = OOMAbove(fits=3)
    fitting = FittingEncoder(enc, 8, torch.device("cpu"))
    got = fitting(x)
    np.testing.assert_array_equal(got[:, 0], x.flatten(1).sum(1).numpy())
    assert fitting.limit == 2 and fitting.halvings == 2
    assert enc.sizes[:3] == [8, 4, 2]  # 8 and 4 failed, then 2 at a time
    enc.sizes.clear()
    fitting(x[:5])
    assert max(enc.sizes) == 2  # the size that fitted is kept


def test_out_of_memory_at_one_image_and_other_errors():
    with pytest.raises(UserError, match="even one image at a time"):
        FittingEncoder(OOMAbove(fits=0), 4, torch.device("cpu"))(torch.zeros(4, 1, 1, 1))
    with pytest.raises(RuntimeError, match="shape mismatch"):
        FittingEncoder(OOMAbove(fits=0, message="shape mismatch"), 4, torch.device("cpu"))(torch.zeros(4, 1, 1, 1))
    # CPU allocator failures count as out of memory too
    cpu = OOMAbove(fits=1, message="[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: not enough memory")
    assert FittingEncoder(cpu, 4, torch.device("cpu"))(torch.zeros(4, 1, 1, 1)).shape == (4, 3)


@pytest.mark.slow
def test_extraction_records_the_batch_size_that_ran(tiny_folder, store, monkeypatch):
    from tasks.sources import ImageFolderSource

    backend = load_model("ViT-S-32", "none", store=store)
    real = backend.encode_images
    monkeypatch.setattr(backend, "encode_images", lambda px: OOMAbove(fits=4)(px) if len(px) > 4 else real(px))
    source = ImageFolderSource(tiny_folder)
    small = extract_features(backend, source, "test", store=None, batch_size=16, num_workers=0, progress=False)
    monkeypatch.setattr(backend, "encode_images", real)
    whole = extract_features(backend, source, "test", store=None, batch_size=16, num_workers=0, progress=False)
    assert small.info["batch_size"] == 4 and whole.info["batch_size"] == 16
    np.testing.assert_allclose(small.features, whole.features, atol=1e-4)




@pytest.mark.slow
def test_a_cached_run_imports_no_torch_and_repeats_every_number(tiny_folder, vit_s32_checkpoint, tmp_path):
    """The start-up path: a run served from the cache computes its logits with numpy, as the run that filled
    the cache did, so it needs no torch at all (seconds of imports) and its records are the same bit for bit."""
    import subprocess
    import sys

    from helpers.cli import REPO
    from bench.engine.records import load_predictions

    env = {**__import__("os").environ, "ZSBENCH_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    base = ["run", "--model", "ViT-S-32", "--pretrained", str(vit_s32_checkpoint), "--task", str(tiny_folder),
            "--templates", "single", "--templates", "openai_imagenet", "--quiet"]
    runs = []
    for name, prefix in (("first", []), ("cached", ["-c", NO_TORCH])):  # the second cannot import torch
        done = subprocess.run([sys.executable, *prefix, str(REPO / "cli.py"), *base, "--out", str(tmp_path / name)],
                              capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        runs.append(sorted((tmp_path / name / "runs").rglob("*.json")))
    first, cached = runs
    assert len(first) == len(cached) == 2
    for a, b in zip(first, cached):
        ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
        assert ra["templates"] == rb["templates"] and rb["task_info"]["feature_cache"] == "hit"
        assert ra["task_info"]["image_forward"] == "onednn-linear" and "image_forward" not in rb["task_info"]
        assert ra["metrics"] == rb["metrics"]
        pa, pb = load_predictions(a), load_predictions(b)
        assert pa.keys() == pb.keys() and all(np.array_equal(pa[k], pb[k]) for k in pa)


def test_the_onednn_forward_equals_eager_and_keeps_the_weights(monkeypatch):
    """The CPU forward zsbench uses by default (bench.models.cpu_forward): features within the stated bound of
    PyTorch's own (tests/helpers/forward.py), the same state dict, and every call it does not cover (cross-attention, a mask, weights) answered by the
    original module exactly."""
    import open_clip

    from bench.models.cpu_forward import EAGER, ONEDNN, OneDNNSelfAttention, speed_up_image_tower

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-S-32", pretrained=None).eval()
    keys = {k: v.clone() for k, v in model.state_dict().items()}
    original_mlp = copy.deepcopy(model.visual.transformer.resblocks[0].mlp)
    x = torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        eager = model.encode_image(x)
    monkeypatch.setenv("ZSBENCH_CPU_FORWARD", "eager")
    assert speed_up_image_tower(model.visual, torch.device("cpu"), "fp32") == EAGER
    monkeypatch.delenv("ZSBENCH_CPU_FORWARD")
    assert speed_up_image_tower(model.visual, torch.device("cpu"), "bf16") == EAGER
    assert speed_up_image_tower(model.visual, torch.device("cpu"), "fp32") == ONEDNN
    state = model.state_dict()
    assert state.keys() == keys.keys() and all(torch.equal(state[k], keys[k]) for k in keys)
    with torch.inference_mode():
        fast = model.encode_image(x)
    assert not torch.equal(fast, eager)  # another summation order, the same float32 arithmetic ...
    assert_forward_close(fast, eager)  # ... within the bound the docs state
    attn = model.visual.transformer.resblocks[0].attn
    assert isinstance(attn, OneDNNSelfAttention)
    q, kv = torch.randn(2, 5, attn.original.embed_dim), torch.randn(2, 7, attn.original.embed_dim)
    mask = torch.zeros(5, 5)
    with torch.inference_mode():
        for args, kwargs in (((q, kv, kv), {"need_weights": False}), ((q, q, q), {"need_weights": False, "attn_mask": mask}),
                             ((q, q, q), {})):
            assert torch.equal(attn(*args, **kwargs)[0], attn.original(*args, **kwargs)[0])
        mine = attn(q, q, q, need_weights=False)[0]
        assert (mine - attn.original(q, q, q, need_weights=False)[0]).abs().max() < 1e-5
        mlp = model.visual.transformer.resblocks[0].mlp  # GELU fused into c_fc's call
        assert mlp.c_fc.gelu and isinstance(mlp.gelu, torch.nn.Identity)
        assert (mlp(q) - original_mlp(q)).abs().max() < 1e-5
        with torch.autocast("cpu", dtype=torch.bfloat16):  # not covered: PyTorch's own ops, as before
            assert torch.equal(mlp(q), original_mlp(q))
