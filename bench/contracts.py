"""Contracts for plug-in authors, as scikit-learn's ``check_estimator`` is for estimators.

``check_backend(MyBackend, "my:model")`` and ``check_protocol(MyProtocol)`` run one check after
another on your class, through the same engine a run uses, and raise :class:`ContractError` naming
the first check that fails and why. Every built-in backend and protocol passes them (the tests run
them), so a plug-in that passes them works wherever a built-in does: ``run``, the caches, records,
``leaderboard``, ``compare``, ``plot``.

    from bench.contracts import check_backend, check_protocol
    check_backend(MyBackend, "my:model-v1")      # returns the names of the checks passed
    check_protocol(MyProtocol)

The data is generated in a temporary folder (coloured shapes: a train/val/test classification task,
a darkened copy as its shift, a captions file, association instances); nothing is downloaded.
"""
from __future__ import annotations

import json
import math
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, fields as dataclass_fields, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from bench.core.errors import UserError

#: the default backend check_protocol evaluates with: a random-init open_clip model (no weights needed)
DEFAULT_BACKEND = ("ViT-S-32", "none")
COLOURS = {"red": (220, 40, 40), "green": (40, 200, 40), "blue": (40, 40, 220), "yellow": (220, 220, 40)}
COLUMN_FORMATS = ("pct", "ci", "int", "ratio", "text")


class ContractError(AssertionError):
    """A plug-in broke a contract: the message names the check and what it found; ``check`` is that check's
    name and ``passed`` the checks it passed before it."""

    check: str = ""
    passed: tuple[str, ...] = ()


#: every check of :func:`check_protocol`, in the order it runs them (the last ones after "every column reads" but
#: the notes apply to protocols with a paired test only); tests give each its own id, as scikit-learn's
#: ``parametrize_with_checks`` does
PROTOCOL_CHECKS = (
    "is a Protocol subclass", "name is a non-empty string", "metrics is a tuple of strings",
    "kinds is a non-empty tuple of task kinds (strings)", "default_for names kinds it takes",
    "board is a string or None", "zero_shot is a bool", "options is a dataclass (of option fields) or None",
    "options instantiate with their defaults", "views are Views with distinct names",
    "plots are PlotKinds with distinct names", "report sections are ReportSections",
    "columns are Columns with known formats", "paired_test is known",
    "clip_benchmark_task is one of CLIP_benchmark's zero-shot tasks or None", "it instantiates without arguments",
    "units() gives Units", "a run through the runner", "the run makes records",
    "every record's primary metric is a number", "every declared metric is measured",
    "records round-trip through JSON", "settings() is text", "every column reads",
    "a protocol with a paired test saves per-sample predictions",
    "predictions have indices and labels of one length", "notes", "notes() is a list of text",
    "the same run gives the same metrics")
#: the checks that apply only to protocols with a paired test
PAIRED_TEST_CHECKS = ("a protocol with a paired test saves per-sample predictions",
                      "predictions have indices and labels of one length")


class _Checks:
    """Runs named checks in order; the first failure raises ContractError naming it."""

    def __init__(self, what: str):
        self.what, self.passed = what, []

    def __call__(self, name: str, condition: Any, detail: str = "") -> None:
        if not condition:
            raise self.error(name, f"{self.what}: check '{name}' failed" + (f": {detail}" if detail else ""))
        if name not in self.passed:
            self.passed.append(name)

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        try:
            value = fn()
        except ContractError:
            raise
        except Exception as exc:  # noqa: BLE001 - the contract reports whatever the plug-in raised
            raise self.error(name, f"{self.what}: check '{name}' raised {type(exc).__name__}: {exc}") from exc
        if name not in self.passed:
            self.passed.append(name)
        return value

    def error(self, name: str, message: str) -> ContractError:
        exc = ContractError(message)
        exc.check, exc.passed = name, tuple(self.passed)
        return exc


# -- generated data ------------------------------------------------------------------------------------
def _image(colour: tuple[int, int, int], seed: int, dark: bool = False):
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    im = Image.fromarray(rng.integers(0, 50, size=(40, 48, 3), dtype=np.uint8))
    x, y = int(rng.integers(2, 12)), int(rng.integers(2, 8))
    fill = tuple(int(c * (0.45 if dark else 1.0)) for c in colour)
    ImageDraw.Draw(im).rectangle((x, y, x + 26, y + 24), fill=fill)
    return im


@dataclass(frozen=True)
class ContractData:
    """The generated tasks, registered for the duration of a check, by kind."""

    root: Path
    classification: str
    shift_suite: str
    retrieval: str
    association: str

    def task_for(self, kind: str) -> str | None:
        """A generated task of ``kind``, for the kinds the contract data has (None for another kind)."""
        return {"classification": self.classification, "retrieval": self.retrieval,
                "association": self.association}.get(kind)


@contextmanager
def contract_data() -> Iterator[ContractData]:
    """Generated tasks in a temporary folder, registered (and unregistered after)."""
    from tasks.families import FAMILIES, ShiftFamily
    from tasks.registry import TASKS, register
    from tasks.spec import SourceSpec, TaskSpec

    with tempfile.TemporaryDirectory(prefix="zsbench-contract-") as tmp:
        root = Path(tmp)
        counts = {"train": 6, "val": 3, "test": 4}
        for split, n in counts.items():
            for c, (name, colour) in enumerate(COLOURS.items()):
                for i in range(n):
                    for dark, folder in ((False, "clean"), (True, "dark")):
                        path = root / folder / split / f"{name}_square" / f"{i}.png"
                        path.parent.mkdir(parents=True, exist_ok=True)
                        _image(colour, 1000 * c + 10 * i + len(split), dark).save(path)
        test_images = sorted((root / "clean" / "test").rglob("*.png"))
        with open(root / "captions.csv", "w", encoding="utf-8") as f:
            f.write("filepath,title\n")
            for p in test_images:
                colour = p.parent.name.split("_")[0]
                f.write(f"{p},a {colour} square\n{p},a photo of something {colour}\n")
        with open(root / "association.jsonl", "w", encoding="utf-8") as f:
            for colour in ("red", "blue"):
                candidates = [str(p) for p in test_images[:10]]
                chosen = [c for c in candidates if f"/{colour}_" in c] or candidates[:1]
                f.write(json.dumps({"cue": colour, "candidates": candidates, "associations": chosen}) + "\n")
        names = {k: f"zsbench-contract-{k}" for k in ("colours", "colours-dark", "captions", "association")}
        specs = [
            TaskSpec(name=names["colours"], sources=(SourceSpec("imagefolder", {"path": str(root / "clean/{split}")}),),
                     classnames="source", templates="single", split="test", train_split="train", val_split="val"),
            TaskSpec(name=names["colours-dark"], parent=names["colours"], classnames="source", templates="single",
                     sources=(SourceSpec("imagefolder", {"path": str(root / "dark/{split}")}),), split="test"),
            TaskSpec(name=names["captions"], kind="retrieval", metric="mean_recall@1", classnames=None,
                     sources=(SourceSpec("captions", {"path": str(root / "captions.csv")}),), split="test"),
            TaskSpec(name=names["association"], kind="association", metric="jaccard_score_10-12", classnames=None,
                     sources=(SourceSpec("association", {"path": str(root / "association.jsonl")}),), split="test"),
        ]
        suite = "zsbench-contract-shift"
        saved = TASKS.snapshot()
        for spec in specs:
            register(spec)
        FAMILIES[suite] = ShiftFamily(suite, "generated: clean -> dark", ((names["colours"], (names["colours-dark"],)),))
        try:
            yield ContractData(root, names["colours"], suite, names["captions"], names["association"])
        finally:
            TASKS.restore(saved)
            FAMILIES.pop(suite, None)


# -- backends ------------------------------------------------------------------------------------------
def check_backend(backend_class: type, model: str, pretrained: str | None = None, *, device: str = "cpu") -> list[str]:
    """Check a :class:`~bench.models.base.ModelBackend` subclass for the model string it serves.

    Checks, in order: the class and its ``available()`` rows; ``check_request`` accepts the request
    without loading weights; ``from_request`` builds it; identity (``fingerprint``, ``text_fingerprint``)
    is a non-empty string and the same for a second instance; ``preprocess`` makes same-shaped float
    tensors of images of other sizes and modes; ``encode_images`` / ``encode_texts`` give finite
    ``[n, embed_dim]`` rows that do not depend on the batch they came in; ``info()`` is JSON; features
    go through the feature cache (a second extraction is a cache hit with equal features) and a
    prompt-ensemble classifier builds, unit-norm per class. Returns the names of the checks passed.
    """
    import torch

    from bench.engine.classifiers import attach_classifier_cache, cached_classifier
    from bench.engine.features import FeatureExtractor
    from bench.core.store import Store
    from bench.models.base import ModelBackend
    from bench.models.options import BackendOptions
    from tasks.sources.base import ArraySource

    ok = _Checks(f"backend {getattr(backend_class, '__name__', backend_class)} ({model})")
    ok("is a ModelBackend subclass", isinstance(backend_class, type) and issubclass(backend_class, ModelBackend))
    rows = ok.run("available", backend_class.available)
    ok("available() gives (model, pretrained, note) rows of text",
       isinstance(rows, list) and all(isinstance(r, tuple) and len(r) == 3 and all(isinstance(x, str) for x in r)
                                      for r in rows), repr(rows)[:200])
    ok.run("check_request accepts the request", lambda: backend_class.check_request(model, pretrained))
    with tempfile.TemporaryDirectory(prefix="zsbench-contract-cache-") as tmp:
        store = Store(Path(tmp))
        options = BackendOptions(device=device, seed=0, store=store)
        backend = ok.run("from_request builds it", lambda: backend_class.from_request(model, pretrained, options))
        backend.attach_store(store)
        backend.progress = False
        attach_classifier_cache(backend, store)
        twin = ok.run("a second instance builds", lambda: backend_class.from_request(model, pretrained, options))
        for attr in ("fingerprint", "text_fingerprint"):
            value = ok.run(attr, lambda: getattr(backend, attr))
            ok(f"{attr} is a non-empty string", isinstance(value, str) and value, repr(value))
            ok(f"{attr} is the same for the same request", getattr(twin, attr) == value,
               f"{value!r} vs {getattr(twin, attr)!r}: caches and records would never match")
        dim = ok.run("embed_dim", lambda: backend.embed_dim)
        ok("embed_dim is a positive whole number", isinstance(dim, int) and dim > 0, repr(dim))
        images = [_image(c, i) for i, c in enumerate(COLOURS.values())]
        images[1] = images[1].resize((64, 31)).convert("L").convert("RGB")
        tensors = ok.run("preprocess", lambda: [backend.preprocess(im) for im in images])
        ok("preprocess gives float tensors of one shape", all(isinstance(t, torch.Tensor) and t.is_floating_point()
                                                              and t.shape == tensors[0].shape for t in tensors),
           str([getattr(t, "shape", type(t)) for t in tensors]))
        pixels = torch.stack(tensors)
        with torch.inference_mode():
            feats = ok.run("encode_images", lambda: backend.encode_images(pixels).float().cpu())
            ok("encode_images gives [n, embed_dim] finite rows", tuple(feats.shape) == (len(images), dim)
               and bool(torch.isfinite(feats).all()), str(tuple(feats.shape)))
            alone = torch.cat([backend.encode_images(pixels[i:i + 1]).float().cpu() for i in range(len(images))])
            ok("an image's features do not depend on its batch", torch.allclose(feats, alone, atol=1e-4, rtol=1e-3),
               f"max difference {float((feats - alone).abs().max()):.2e}")
            texts = ["a photo of a red square.", "a blue thing", "yellow"]
            emb = ok.run("encode_texts", lambda: backend.encode_texts(texts).float().cpu())
            ok("encode_texts gives [n, embed_dim] finite rows", tuple(emb.shape) == (len(texts), dim)
               and bool(torch.isfinite(emb).all()), str(tuple(emb.shape)))
            reversed_emb = backend.encode_texts(texts[::-1]).float().cpu().flip(0)
            ok("a text's embedding does not depend on its batch", torch.allclose(emb, reversed_emb, atol=1e-4,
                                                                                 rtol=1e-3))
        info = ok.run("info", backend.info)
        ok("info() is a JSON object", isinstance(info, dict) and _is_json(info), repr(info)[:200])
        arrays = np.stack([np.asarray(im.convert("RGB").resize((48, 40))) for im in images])
        source = ArraySource(arrays, np.arange(len(images)), origin="contract", identity="zsbench-contract-images")
        extract = FeatureExtractor(backend, store, 2, 0, False, "skip")
        first = ok.run("features through the cache", lambda: extract(source, "test", np.arange(len(images))))
        second = extract(source, "test", np.arange(len(images)))
        ok("a second extraction is a cache hit", second.info["cache"] == "hit", str(second.info["cache"]))
        ok("cached features equal the computed ones", np.allclose(np.asarray(first.features),
                                                                  np.asarray(second.features), atol=1e-6))
        weights, _ = ok.run("a prompt-ensemble classifier", lambda: cached_classifier(
            backend, list(COLOURS), ["a photo of a {}.", "a {} square."], store))
        ok("the classifier is [embed_dim, n_classes] with unit columns", tuple(weights.shape) == (dim, len(COLOURS))
           and np.allclose(np.linalg.norm(weights, axis=0), 1.0, atol=1e-4), str(tuple(weights.shape)))
    return ok.passed


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


# -- protocols -----------------------------------------------------------------------------------------
def contract_options(protocol_class: type) -> dict[str, Any]:
    """The options a protocol asks its contract run to use (``Protocol.contract_options``: small, to stay fast)."""
    values = protocol_class.contract_options()
    return {} if values is None else {protocol_class.name: values}


def check_protocol(protocol_class: type, *, task: str | None = None,
                   backend: tuple[str, str | None] = DEFAULT_BACKEND) -> list[str]:
    """Check a :class:`~bench.engine.protocol.Protocol` subclass by running it through the runner.

    Checks, in order: its declarations (``name``, ``metrics``, ``kinds``, ``board``, ``zero_shot``,
    ``columns``, ``paired_test``, ``options``, ``views``, ``plots``, ``report_sections``); that it plans
    units for a generated task of each kind it takes that the contract data has (``task`` overrides, and
    is needed for a kind of the protocol's own; a shift suite is tried when a plain task is refused); then,
    run twice on that data with ``backend``: outcomes carry a numeric ``primary`` and every declared
    metric appears; records round-trip through JSON; a protocol with a paired test stores per-sample
    predictions; its ``settings`` and ``notes`` are text and every column can be read; the second
    run gives the same metrics (determinism). Returns the names of the checks passed.
    """
    from bench.engine.clip_benchmark_format import TO_CLIP_BENCHMARK
    from bench.engine.config import RunConfig
    from dataclasses import is_dataclass

    from bench.engine.protocol import PAIRED_TESTS, Column, PlotKind, Protocol, ReportSection, Unit, View
    from bench.engine.protocol_registry import PROTOCOLS
    from bench.engine.records import RunRecord
    from bench.engine.runner import Runner

    ok = _Checks(f"protocol {getattr(protocol_class, '__name__', protocol_class)}")
    ok("is a Protocol subclass", isinstance(protocol_class, type) and issubclass(protocol_class, Protocol))
    name = getattr(protocol_class, "name", None)
    ok("name is a non-empty string", isinstance(name, str) and name, repr(name))
    ok("metrics is a tuple of strings", isinstance(protocol_class.metrics, tuple)
       and all(isinstance(m, str) for m in protocol_class.metrics))
    ok("kinds is a non-empty tuple of task kinds (strings)", isinstance(protocol_class.kinds, tuple)
       and protocol_class.kinds and all(isinstance(k, str) and k for k in protocol_class.kinds),
       repr(protocol_class.kinds))
    ok("default_for names kinds it takes", set(protocol_class.default_for) <= set(protocol_class.kinds),
       repr(protocol_class.default_for))
    ok("board is a string or None", protocol_class.board is None or isinstance(protocol_class.board, str))
    ok("zero_shot is a bool", isinstance(protocol_class.zero_shot, bool), repr(protocol_class.zero_shot))
    ok("options is a dataclass (of option fields) or None", protocol_class.options is None
       or (isinstance(protocol_class.options, type) and is_dataclass(protocol_class.options)
           and all(f.metadata.get("flag") for f in dataclass_fields(protocol_class.options))),
       repr(protocol_class.options))
    ok("options instantiate with their defaults", protocol_class.options is None or protocol_class.options())
    ok("views are Views with distinct names", all(isinstance(v, View) for v in protocol_class.views())
       and len({v.name for v in protocol_class.views()}) == len(protocol_class.views()))
    ok("plots are PlotKinds with distinct names", all(isinstance(k, PlotKind) for k in protocol_class.plots())
       and len({k.name for k in protocol_class.plots()}) == len(protocol_class.plots()))
    ok("report sections are ReportSections", all(isinstance(r, ReportSection) for r in protocol_class.report_sections()))
    ok("columns are Columns with known formats", all(isinstance(c, Column) and c.format in COLUMN_FORMATS
                                                      for c in protocol_class.columns))
    ok("paired_test is known", protocol_class.paired_test in (*PAIRED_TESTS, None), repr(protocol_class.paired_test))
    ok("clip_benchmark_task is one of CLIP_benchmark's zero-shot tasks or None",
       protocol_class.clip_benchmark_task in (*TO_CLIP_BENCHMARK, None), repr(protocol_class.clip_benchmark_task))
    protocol = ok.run("it instantiates without arguments", protocol_class)

    with contract_data() as data, tempfile.TemporaryDirectory(prefix="zsbench-contract-run-") as tmp:
        saved = PROTOCOLS.snapshot()
        PROTOCOLS.register(name, protocol_class, replace=True)  # the class under check, for this run only
        try:
            base = RunConfig(models=[backend], out_dir=Path(tmp) / "results", cache_dir=Path(tmp) / "cache",
                             num_workers=0, progress=False, protocols=[name], probe_max_iter=50,
                             protocol_options=contract_options(protocol_class))
            own = task or protocol_class.contract_task(Path(tmp) / "own-task")
            requested = _plan(ok, protocol, base, data, own, Unit)
            config = replace(base, tasks=[requested])
            first = ok.run("a run through the runner", lambda: Runner(config).run())
            ok("the run makes records", len(first) > 0)
            for outcome_record in first:
                primary = outcome_record.metrics.primary
                ok("every record's primary metric is a number", isinstance(primary, (int, float))
                   and not isinstance(primary, bool) and math.isfinite(primary), repr(primary))
            made = {k for r in first for k in r.metrics}
            ok("every declared metric is measured", set(protocol_class.metrics) <= made,
               f"missing: {sorted(set(protocol_class.metrics) - made)}")
            for r in first:
                again = RunRecord.from_dict(json.loads(json.dumps(r.to_dict())))
                ok("records round-trip through JSON", again.to_dict() == json.loads(json.dumps(r.to_dict())))
                ok("settings() is text", isinstance(protocol.settings(r), str))
                ok.run("every column reads", lambda: [column.value(r) for column in protocol_class.columns])
                if protocol_class.paired_test is not None:
                    ok("a protocol with a paired test saves per-sample predictions", r.predictions_file, r.task)
                    with np.load(Path(config.out_dir) / "runs" / r.predictions_file) as npz:
                        preds = {k: npz[k] for k in npz.files}
                    ok("predictions have indices and labels of one length", {"indices", "labels"} <= set(preds)
                       and len(preds["indices"]) == len(preds["labels"]) and ({"top5", "scores"} & set(preds)))
            notes = ok.run("notes", lambda: protocol.notes(first))
            ok("notes() is a list of text", isinstance(notes, list) and all(isinstance(n, str) for n in notes))
            second = Runner(replace(config, no_save=True)).run()
            ok("the same run gives the same metrics", [_plain(r.metrics) for r in first] ==
               [_plain(r.metrics) for r in second])
        finally:
            PROTOCOLS.restore(saved)
    return ok.passed


def _plan(ok: _Checks, protocol: Any, config: Any, data: ContractData, task: str | None, unit_type: type) -> str:
    """The task name the protocol plans units for: ``task``, else a generated task of a kind it takes,
    else the generated shift suite (protocols whose units expand a suite)."""
    candidates = [task] if task else [t for t in map(data.task_for, protocol.kinds) if t] + [data.shift_suite]
    problems = []
    for name in candidates:
        try:
            units = protocol.units(name, replace(config, tasks=[name]))
        except UserError as exc:
            problems.append(f"{name}: {exc}")
            continue
        ok("units() gives Units", isinstance(units, list) and units and all(isinstance(u, unit_type) for u in units))
        return name
    raise ok.error("units() gives Units", f"protocol {protocol.name}: check 'plans units' failed: no generated task "
                   f"suits it ({' | '.join(problems)}); pass task= or declare contract_task()")


def _plain(metrics: Any) -> str:
    return json.dumps(dict(metrics), sort_keys=True, default=str)
