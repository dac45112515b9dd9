"""The engine's two interfaces and its one record builder.

- record parity: a robustness record and a zero-shot record have the same top-level keys, filled
  timings and backend facts;
- a backend registered by prefix and a protocol registered by name run without any change to the
  runner (both defined here, as a user would in their own package);
- options are declared once: every RunConfig option reaches argparse and the record.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from bench.config import RunConfig, add_run_options, config_from_args
from bench.models.base import BackendOptions, ModelBackend
from bench.protocols.base import Outcome, Protocol, Unit
from bench.runner import Runner, run
from tasks.families import FAMILIES, ShiftFamily

COMMON = {"model_load", "data_open", "features", "classifier"}


@pytest.fixture
def shift_pair(tiny_folder, tmp_path, monkeypatch):
    """A registered two-task shift suite over generated folders: the clean folder and a darkened copy."""
    from PIL import Image, ImageEnhance

    dark = tmp_path / "dark"
    for path in tiny_folder.rglob("*.*"):
        out = dark / path.relative_to(tiny_folder)
        out.parent.mkdir(parents=True, exist_ok=True)
        ImageEnhance.Brightness(Image.open(path).convert("RGB")).enhance(0.4).save(out.with_suffix(".png"))
    monkeypatch.setitem(FAMILIES, "test-shift", ShiftFamily("test-shift", "clean -> dark",
                                                            ((str(tiny_folder), (str(dark),)),)))
    return tiny_folder, dark


def test_robustness_and_zeroshot_records_carry_the_same_fields(shift_pair, tmp_path):
    clean, dark = shift_pair
    base = dict(models=[("ViT-S-32", "none")], out_dir=tmp_path / "r", cache_dir=tmp_path / "c", num_workers=0,
                progress=False)
    (zs,) = run(RunConfig(tasks=[str(clean)], **base))
    runner = Runner(RunConfig(tasks=["test-shift"], protocols=["robustness"], **base))
    rob = runner.run()
    assert not runner.skipped and [r.task_info["role"] for r in rob] == ["in-distribution", "shift"]
    saved = [json.loads(p.read_text()) for p in sorted((tmp_path / "r" / "runs").glob("*.json"))]
    assert len(saved) == 3 and len({tuple(sorted(d)) for d in saved}) == 1  # same top-level keys
    for rec in [zs, *rob]:
        assert COMMON <= set(rec.timings) and all(v is not None and v >= 0 for v in rec.timings.values())
        assert rec.model_info["backend"] == "open_clip" and rec.model_info["fingerprint"]
        assert rec.versions["torch"] and rec.seed == 0 and rec.task_info["data_identity"]
        assert rec.config["seed"] == 0 and rec.config["precision"] == "fp32"
    shift = rob[1]
    # the shift's own numbers, recomputed here from the same features
    assert shift.task_info["parent"] == str(clean) and shift.metrics["id_top1"] == pytest.approx(zs.metrics["top1"])
    assert shift.metrics["relative_robustness"] == pytest.approx(shift.metrics["top1"] / shift.metrics["id_top1"])
    assert rob[0].metrics["top1"] == pytest.approx(zs.metrics["top1"])


@pytest.mark.slow
def test_a_missing_shift_is_skipped_and_listed(tiny_folder, tmp_path, monkeypatch):
    monkeypatch.setitem(FAMILIES, "broken-shift", ShiftFamily("broken-shift", "", ((str(tiny_folder),
                                                                                    (str(tmp_path / "nowhere"),)),)))
    runner = Runner(RunConfig(models=[("ViT-S-32", "none")], tasks=["broken-shift"], protocols=["robustness"],
                              no_save=True, cache_dir=tmp_path / "c", num_workers=0, progress=False))
    records = runner.run()
    assert [r.task_info["role"] for r in records] == ["in-distribution"]
    assert len(runner.skipped) == 1 and "nowhere" in runner.skipped[0]


# -- a backend of our own: colour words against mean image colour -------------------------------
COLOURS = {"red": (1.0, 0.0, 0.0), "blue": (0.0, 0.0, 1.0), "green": (0.0, 1.0, 0.0), "café": (1.0, 1.0, 0.0)}


class ColourBackend(ModelBackend):
    """Embeds an image as its mean colour and a prompt as the colour it names: zero-shot by colour."""

    def __init__(self, name: str, options: BackendOptions):
        self.name, self.pretrained, self.device = name, "none", torch.device("cpu")

    @classmethod
    def from_request(cls, name, pretrained, options):
        return cls(name, options)

    @property
    def fingerprint(self) -> str:
        return "colour-backend-v1"

    @property
    def preprocess(self):
        return lambda im: torch.from_numpy(np.asarray(im.convert("RGB").resize((16, 16)), dtype=np.float32) / 255).permute(2, 0, 1)

    @property
    def embed_dim(self) -> int:
        return 3

    def encode_images(self, pixels):
        mean = pixels.mean(dim=(2, 3))
        return mean - mean.mean(dim=1, keepdim=True) + 1e-3

    def encode_texts(self, texts):
        out = []
        for t in texts:
            rgb = next((v for k, v in COLOURS.items() if k in t), (0.3, 0.3, 0.3))
            v = torch.tensor(rgb) - sum(rgb) / 3
            out.append(v + 1e-3)
        return torch.stack(out)

    def info(self):
        return {"backend": "colour"}


class FeatureNorm(Protocol):
    """A protocol of our own: the mean norm of the image features (a sanity statistic)."""

    name = "feature-norm"
    metrics = ("mean_norm",)

    def evaluate(self, ev, unit: Unit, templates):
        feats = ev.features()
        norm = float(np.linalg.norm(feats.features, axis=1).mean())
        return [Outcome({"mean_norm": norm, "primary": norm}, int(len(feats.labels)),
                        timings={"features": feats.info["seconds"], "classifier": 0.0})]


def test_a_backend_and_a_protocol_plug_in_without_touching_the_runner(tiny_folder, tmp_path, monkeypatch):
    import bench.models
    import bench.protocols

    monkeypatch.setattr(bench.models, "BACKENDS", list(bench.models.BACKENDS))
    monkeypatch.setattr(bench.protocols, "PROTOCOLS", dict(bench.protocols.PROTOCOLS))
    bench.models.register_backend("colour:", "test_engine:ColourBackend")
    bench.protocols.register_protocol("feature-norm", "test_engine:FeatureNorm")
    assert bench.models.BACKENDS[-1].prefix == ""  # open_clip stays the fallback
    zs, norm = run(RunConfig(models=[("colour:v1", None)], tasks=[str(tiny_folder)], templates=["single"],
                             protocols=["zeroshot", "feature-norm"], out_dir=tmp_path / "r", cache_dir=tmp_path / "c",
                             num_workers=0, progress=False))
    # the colour of each class decides its images (chance: 0.25; the grayscale copy of each class
    # carries no colour, so up to 1 in 5 may miss)
    assert zs.metrics["top1"] >= 0.75 and zs.model_info["backend"] == "colour"
    assert norm.protocol == "feature-norm" and norm.metrics["mean_norm"] > 0 and norm.timings["model_load"] >= 0
    saved = {json.loads(p.read_text())["protocol"] for p in (tmp_path / "r" / "runs").glob("*.json")}
    assert saved == {"zeroshot", "feature-norm"}


def test_every_option_is_declared_once_and_reaches_the_record():
    from dataclasses import fields

    from bench.config import ROBUSTNESS

    everywhere = argparse.ArgumentParser()
    add_run_options(everywhere, ROBUSTNESS, model_required=False)
    parser = argparse.ArgumentParser()
    add_run_options(parser)
    args = parser.parse_args(["--model", "ViT-B-32", "--pretrained", "none", "--task", "cifar10", "--limit", "10",
                              "--precision", "bf16", "--shots", "1,2", "--batch-size", "auto"])
    config = config_from_args(args)
    assert config.models == [("ViT-B-32", "none")] and config.limit == 10 and config.shots == (1, 2)
    assert config.batch_size is None and config.precision == "bf16"
    recorded = config.recorded()
    flags = {a.dest for p in (parser, everywhere) for a in p._actions}
    for f in fields(RunConfig):
        kind = f.metadata.get("kind")
        if kind != "internal":
            assert f.name in flags, f"{f.name} has no command-line option"
        if f.metadata.get("record", True):
            assert f.name in recorded, f"{f.name} is not recorded"
