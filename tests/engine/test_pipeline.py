"""End to end on a generated ImageFolder with a random-init open_clip model: logits equal an
independent open_clip computation and CLIP_benchmark's evaluation; the cache behaves."""
from __future__ import annotations

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from bench.core.store import Store
from bench.engine.classifiers import cached_classifier
from bench.engine.features import extract_features
from bench.models import load_model
from bench.engine.records import load_predictions, load_record
from bench.engine.runner import RunConfig, run
from bench.engine.zeroshot import zeroshot_logits
from prompts import get_templates
from tasks.sources import ImageFolderSource

CLASSNAMES = ["red square", "blue circle", "café circle", "green square"]  # sorted folder order below


@pytest.fixture(scope="module")
def reference(vit_s32_checkpoint, tiny_folder):
    """Independent path: open_clip's own model, transform, tokenizer and classifier builder."""
    model, _, preprocess = open_clip.create_model_and_transforms("ViT-S-32", pretrained=str(vit_s32_checkpoint))
    model.eval()
    tokenizer = open_clip.get_tokenizer("ViT-S-32")
    source = ImageFolderSource(tiny_folder)
    names = [c.replace("_", " ") for c in source.classes]
    templates = get_templates("simple_imagenet")
    with torch.inference_mode():
        images = torch.stack([preprocess(Image.open(p)) for p in source.paths])
        feats = model.encode_image(images, normalize=True)
        clf = open_clip.build_zero_shot_classifier(model, tokenizer, names, templates)
        logits = 100.0 * feats @ clf
    return {"model": model, "tokenizer": tokenizer, "preprocess": preprocess, "names": names,
            "templates": templates, "logits": logits, "source": source}


@pytest.mark.slow
def test_logits_equal_independent_open_clip(reference, vit_s32_checkpoint, store):
    backend = load_model("ViT-S-32", str(vit_s32_checkpoint), store=store)
    feats = extract_features(backend, reference["source"], "all", store=store, batch_size=3, num_workers=0,
                             progress=False)
    clf, _ = cached_classifier(backend, reference["names"], reference["templates"], store)
    ours = zeroshot_logits(feats.features, clf)
    assert np.abs(ours - reference["logits"].numpy()).max() < 1e-4
    assert np.array_equal(feats.labels, reference["source"].targets)


@pytest.mark.slow
def test_same_predictions_as_clip_benchmark(reference, vit_s32_checkpoint, tmp_path):
    from clip_benchmark.metrics import zeroshot_classification as cb

    src = reference["source"]

    class DS(torch.utils.data.Dataset):
        def __len__(self):
            return len(src)

        def __getitem__(self, i):
            return reference["preprocess"](Image.open(src.paths[i])), int(src.targets[i])

    loader = torch.utils.data.DataLoader(DS(), batch_size=4)
    clf = cb.zero_shot_classifier(reference["model"], reference["tokenizer"], reference["names"],
                                  [t.replace("{}", "{c}") for t in reference["templates"]], "cpu", amp=False)
    cb_logits, cb_true = cb.run_classification(reference["model"], clf, loader, "cpu", amp=False)

    records = run(RunConfig(models=[("ViT-S-32", str(vit_s32_checkpoint))], tasks=[str(src.root)],
                            templates=["simple_imagenet"], out_dir=tmp_path / "results",
                            cache_dir=tmp_path / "cache", num_workers=0, progress=False))
    record_path = next((tmp_path / "results" / "runs").glob("*.json"))
    preds = load_predictions(record_path)
    assert np.array_equal(preds["labels"], cb_true.numpy())
    assert np.array_equal(preds["top5"][:, 0], cb_logits.argmax(1).numpy())
    # and the logits themselves, recomputed from the cache entries the run made
    backend = load_model("ViT-S-32", str(vit_s32_checkpoint), store=Store(tmp_path / "cache"))
    feats = extract_features(backend, src, "all", store=Store(tmp_path / "cache"), num_workers=0, progress=False)
    assert feats.info["cache"] == "hit"
    clf_ours, info = cached_classifier(backend, reference["names"], reference["templates"], Store(tmp_path / "cache"))
    assert info["cache"] == "hit"
    assert np.abs(zeroshot_logits(feats.features, clf_ours) - cb_logits.numpy()).max() < 1e-4
    top1 = (cb_logits.argmax(1) == cb_true).float().mean().item()
    assert records[0].metrics["top1"] == pytest.approx(top1)


class CountingBackend:
    """Wraps a backend and counts image forward passes (optionally failing after some)."""

    def __init__(self, inner, fail_after=None):
        self.inner, self.calls, self.fail_after = inner, 0, fail_after

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode_images(self, pixels):
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.calls += 1
        return self.inner.encode_images(pixels)


def _flip_a_byte(store, chunk: int) -> None:
    """Corrupt one feature chunk file in place (one byte of its data, not its header)."""
    path = sorted((store.root / "features").rglob(f"chunk{chunk:05d}.features.npy"))[0]
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.slow
def test_cache_second_run_no_forward_resume_and_corruption(tiny_folder, store):
    source = ImageFolderSource(tiny_folder)
    base = load_model("ViT-S-32", "none", store=store)
    kwargs = dict(store=store, batch_size=2, num_workers=0, progress=False, chunk_size=4)

    first = CountingBackend(base, fail_after=5)  # 20 images, chunks of 4: dies inside chunk 2
    with pytest.raises(KeyboardInterrupt):
        extract_features(first, source, "all", **kwargs)
    assert first.calls == 5

    resumed = CountingBackend(base)
    full = extract_features(resumed, source, "all", **kwargs)
    assert full.info["cache"] == "resumed"
    assert resumed.calls == (20 - 8) // 2   # chunks 0 and 1 were kept

    again = CountingBackend(base)
    hit = extract_features(again, source, "all", **kwargs)
    assert again.calls == 0 and hit.info["cache"] == "hit"
    assert np.array_equal(hit.features, full.features)

    reference = extract_features(base, source, "all", store=None, batch_size=20, num_workers=0, progress=False)
    assert np.abs(full.features - reference.features).max() < 1e-4

    _flip_a_byte(store, 3)
    fixed = CountingBackend(base)
    with pytest.warns(UserWarning, match="corrupt"):
        repaired = extract_features(fixed, source, "all", **kwargs)
    assert fixed.calls == 2                  # only the corrupt chunk (4 images) again
    assert np.array_equal(repaired.features, full.features)


@pytest.mark.slow
def test_lazy_features_stay_in_the_cache_files(tiny_folder, store):
    """``lazy=True`` (probe training splits): the same features, read from the chunk files on
    demand after their checksums are verified; a corrupt chunk is recomputed, never streamed."""
    from bench.engine.feature_chunks import FeatureChunks

    source = ImageFolderSource(tiny_folder)
    base = load_model("ViT-S-32", "none", store=store)
    kwargs = dict(store=store, batch_size=2, num_workers=0, progress=False, chunk_size=4)
    eager = extract_features(base, source, "all", **kwargs)
    lazy = extract_features(base, source, "all", lazy=True, **kwargs)
    assert isinstance(lazy.features, FeatureChunks) and len(lazy.features.parts) == 5
    assert np.array_equal(lazy.features.to_array(), eager.features) and np.array_equal(lazy.labels, eager.labels)

    _flip_a_byte(store, 2)
    counting = CountingBackend(base)
    with pytest.warns(UserWarning, match="corrupt"):
        repaired = extract_features(counting, source, "all", lazy=True, **kwargs)
    assert counting.calls == 2 and np.array_equal(repaired.features.to_array(), eager.features)


@pytest.mark.slow
def test_record_contents(tiny_folder, tmp_path):
    records = run(RunConfig(models=[("ViT-S-32", "none")], tasks=[str(tiny_folder)], templates=["single", None],
                            limit=8, seed=3, out_dir=tmp_path / "r", cache_dir=tmp_path / "c", num_workers=0,
                            progress=False))
    assert len(records) == 2
    paths = sorted((tmp_path / "r" / "runs").glob("*.json"))
    assert len(paths) == 2
    rec = load_record(paths[0])
    for key in ("top1", "top5", "mean_per_class_recall"):
        assert key in rec.metrics
    assert rec.n_samples == 8 and rec.seed == 3 and rec.protocol == "zeroshot"
    assert rec.config["subset"] == "stratified"
    for key in ("python", "torch", "open_clip_torch", "zsbench", "git_commit"):
        assert key in rec.versions
    preds = load_predictions(paths[0])
    assert preds["top5"].shape == (8, 4) and len(preds["indices"]) == 8   # 4 classes -> top-4
    assert {r.templates for r in records} == {"single", "openai_imagenet"}


def _limited(limit_bytes: int):
    def apply():
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return apply


@pytest.mark.slow
def test_shared_memory_too_small_falls_back_to_decoding_in_process(tmp_path):
    """A 1.5 MB file-size limit (as Docker's small /dev/shm): the decoding workers' shared-memory files
    cannot grow, so the run says so once and decodes in its own process, with the same numbers."""
    import subprocess
    import sys

    from helpers.cli import REPO

    folder = REPO / "examples" / "shapes" / "images"
    args = [sys.executable, str(REPO / "cli.py"), "run", "--model", "ViT-S-32", "--pretrained", "none", "--task",
            str(folder), "--templates", "single", "--no-save", "--batch-size", "16"]
    env = {**__import__("os").environ, "ZSBENCH_CACHE": str(tmp_path / "c1")}
    limited = subprocess.run([*args, "--workers", "2"], capture_output=True, text=True, env=env, cwd=tmp_path,
                             preexec_fn=_limited(1_500_000), timeout=600)
    assert limited.returncode == 0, limited.stderr[-2000:]
    warned = [ln for ln in limited.stderr.splitlines() if "shared memory is too small" in ln]
    assert len(warned) == 1 and "decoding in this process" in warned[0] and "Traceback" not in limited.stderr
    from helpers.cli import run_cli

    plain = run_cli(*args[2:], "--workers", "0", "--quiet", cache=tmp_path / "c2", cwd=tmp_path)  # in this process
    assert limited.stdout.splitlines()[-1] == plain.stdout.splitlines()[-1]  # the same row: same numbers


@pytest.mark.slow
def test_a_full_cache_disk_is_one_line_and_the_next_run_resumes(tmp_path):
    """The cache's files cannot be written (here: a 20 KB file-size limit, as a full disk would refuse them):
    one line naming the cache folder and the fixes, exit 1 (a full disk, not a mistake: issue 37), and a later run
    with room gives the answer."""
    import json
    import subprocess
    import sys

    from helpers.cli import REPO

    folder = REPO / "examples" / "shapes" / "images"
    args = [sys.executable, str(REPO / "cli.py"), "run", "--model", "ViT-S-32", "--pretrained", "none", "--task",
            str(folder), "--templates", "single", "--json", "--no-save", "--workers", "0"]
    env = {**__import__("os").environ, "ZSBENCH_CACHE": str(tmp_path / "c")}
    full = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path,
                          preexec_fn=_limited(20_000), timeout=600)
    lines = [ln for ln in full.stderr.splitlines() if ln.strip() and "warning" not in ln and "%" not in ln]
    assert full.returncode == 1 and len(lines) == 1 and "Traceback" not in full.stderr, full.stderr[-2000:]
    assert f"cannot write to {tmp_path / 'c'}" in lines[0] and "--cache-dir" in lines[0]
    from helpers.cli import run_cli

    again = run_cli(*args[2:], cache=tmp_path / "c", cwd=tmp_path)  # with room (in this process): it resumes
    assert again.returncode == 0 and json.loads(again.stdout)[0]["n_samples"] == 18, again.stderr[-2000:]
