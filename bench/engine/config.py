"""The run configuration, and the one place where every run option is declared.

Each field of :class:`RunConfig` carries its command-line form in its metadata (flag, help,
choices, parser). ``add_run_options`` generates the argparse options from those fields and
``config_from_args`` reads them back, so adding an option is one edit here: the parser, the
configuration and the record (``RunConfig.recorded()``) all follow.

This module stays light (no torch): ``zsbench --help`` builds its parser from it.
"""
from __future__ import annotations

import argparse
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from bench.core.errors import UserError
from bench.core.numbers import MAX_COUNT, count, positive_count, real, seed_value
from bench.core.profiles import PROFILE_NAMES, default_profile, get_profile
from bench.engine.protocol_registry import PROTOCOLS, installed
from bench.models.options import PRECISIONS
from prompts.references import PROMPT_SOURCES, implied_source
from tasks.spec import BAD_IMAGE_POLICIES

#: --workers: decoding processes (0: in this process)
workers_count = count(0, 1024)
#: --probe-tol (and perf --tol): a gradient tolerance
tolerance = real(0.0, 1.0, low_open=True, high_open=True)

# Choices shared by the options below and the modules that act on them.
FEATURE_KINDS = ("embedding", "pre-projection")
#: --decode: the model's own PIL preprocessing, or on the device (bench.engine.tensor_decode)
DECODES = ("pil", "tensor")
PROBE_FEATURES = ("paper", *FEATURE_KINDS)
STREAM_MODES = ("auto", "on", "off")

RUN = "run"
ROBUSTNESS = "robustness"
SWEEP = "sweep"
BOTH = (RUN, ROBUSTNESS, SWEEP)


#: ``legacy`` when an option existed from the start (every value of it is part of the work key)
NO_LEGACY: Any = type("NoLegacy", (), {"__repr__": lambda self: "NO_LEGACY"})()


def option(flag: str | None, help: "str | Callable[[], str]", default: Any = None, *, choices: Sequence[str] | None = None,
           parse: Callable[[str], Any] | None = None, metavar: str | None = None, kind: str = "value",
           commands: tuple[str, ...] = BOTH, record: bool = True, result: bool = True, legacy: Any = NO_LEGACY,
           top_level: bool = False) -> Any:
    """A dataclass field that is also a command-line option.

    ``help``: the text, or a function that makes it when the parser is built (a list of what is installed).
    ``kind``: ``"value"`` (one value), ``"flag"`` (store_true), ``"list"`` (repeatable) or
    ``"internal"`` (no command-line form). ``record``: whether the value goes into every record's
    ``config``. ``result``: whether it can change a number (then it is part of the work key that
    decides whether a record already exists). ``commands``: the subcommands that offer it.
    ``legacy``: for an option added after records existed, the value every earlier run had in effect;
    at that value (None included: an option that is off unless given) it is left out of the work key, so
    earlier records still count as done.
    ``top_level`` (a protocol's option that was a run option before protocols declared their own: --shots,
    --class-subset, ...): it keeps a run option's behaviour, so earlier records and scripts stay valid: recorded at
    the top of every record's ``config`` and part of every work key, and accepted whichever protocols run.
    """
    meta = {"flag": flag, "help": help, "choices": choices, "parse": parse, "metavar": metavar, "kind": kind,
            "commands": commands, "record": record, "result": result, "legacy": legacy, "top_level": top_level}
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=meta)
    return field(default=default, metadata=meta)


def assist_value(text: str) -> str:
    """``--assist``: auto, none, or a results folder / record file that exists."""
    if text in ("auto", "none"):
        return text
    if not Path(text).exists():
        raise argparse.ArgumentTypeError(f"no such results folder or record file '{text}': give auto, none or an "
                                         "existing results folder")
    return text


#: images per forward pass: at most this many (a larger batch fits no device)
MAX_BATCH = 1 << 20
_batch = count(1, MAX_BATCH, also=" or 'auto'")


def batch_size_value(text: str) -> int | None:
    """``--batch-size``: a positive whole number, or ``auto`` (None)."""
    if text.strip().lower() == "auto":
        return None
    return _batch(text)


batch_size_value.bounds = _batch.bounds  # type: ignore[attr-defined]
positive_int = positive_count


def protocol_name(text: str) -> str:
    """``--protocol``: any registered protocol, a plug-in's (entry point ``zsbench.protocols``) included."""
    if text not in PROTOCOLS:
        raise argparse.ArgumentTypeError(f"unknown protocol '{text}' (registered: {', '.join(PROTOCOLS.names())})")
    return text


def checked_later(example: str, what: str) -> Callable[[str], float]:
    """A number whose range :class:`RunConfig` checks with the other options (NaN and infinity too), so its
    message can name the option's meaning; here only the text is parsed."""
    def parse(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"takes {what} such as {example}, not '{text}'") from None

    parse.checked_by = "RunConfig"  # type: ignore[attr-defined]
    return parse


#: ``--target-ci`` and ``--confidence``
points = checked_later("2", "a width in percentage points")
confidence_level = checked_later("0.95", "a confidence level")


def int_list(text: str) -> tuple[int, ...]:
    """``1,2,4,8,16`` -> (1, 2, 4, 8, 16); positive whole numbers only."""
    try:
        values = tuple(int(v) for v in str(text).split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"takes comma-separated whole numbers such as 1,2,4,8,16 (got '{text}')") from None
    if not values or not all(positive_int.bounds.holds(v) for v in values):
        raise argparse.ArgumentTypeError(f"needs positive whole numbers, each at most {MAX_COUNT:,} (got '{text}')")
    return values


int_list.bounds = positive_int.bounds  # type: ignore[attr-defined]


@dataclass
class RunConfig:
    """Everything a run depends on; the recorded part is stored in each record's ``config``."""

    # what to evaluate
    models: list[tuple[str, str | None]] = option(
        "--model", "open_clip name (ViT-B-32), hf-hub:org/repo, or conse-effnetlite0-minilm; repeatable "
        "(with --pretrained: one per --model, in order)", [], kind="models", record=False, commands=(RUN, ROBUSTNESS))
    tasks: list[str] = option(
        "--task", "task name (see `zsbench tasks`), @suite (e.g. @clip, @imagenet-shifts, @offline, or "
        "@path/to/suite.txt), or a path: an ImageFolder folder, a path,label .csv/.tsv manifest, or a .toml task "
        "file; repeatable", [], kind="list", commands=(RUN, SWEEP), record=False)
    templates: list[str | None] = option(
        "--templates", "template set name (openai_imagenet, simple_imagenet, single, cifar10, ...) or file; "
        "repeatable (one record each); default: the task's own set", [None], kind="list", record=False)
    protocols: list[str] = option(
        "--protocol", lambda: "the evaluation protocol; repeatable; default: the one the task's kind declares (zeroshot "
        "for classification). Installed: " + "; ".join(f"{name} ({cls.summary})" if cls.summary else name
                                                       for name, cls in installed()),
        [], kind="list", parse=protocol_name, metavar="NAME", commands=(RUN, SWEEP), record=False)
    # data
    split: str | None = option("--split", "dataset split (default: the task's evaluation split)")
    classnames_file: Path | None = option(
        "--classnames", "replace the tasks' class names: a JSON list, a JSON object of dataset -> list (keyed by our "
        "task names or CLIP_benchmark's, as its --custom_classname_file; tasks it does not name keep theirs, a key "
        "naming no dataset is refused), or one name per line; one name per class in label order (recorded)", parse=Path,
        metavar="FILE")
    profile: str | None = option(
        "--profile", "whose protocol to follow to the letter, quirks included (docs/reference/profiles.md): clip "
        "(the CLIP paper's; the default), clip_benchmark (`clip_benchmark eval` 1.6.2 with its defaults: the export's "
        "own names and templates, autocast) or datacomp (DataComp's evaluate.py with clip-benchmark 1.4.0: blank "
        "class names dropped, nlphuji's retrieval data); default: datacomp for --task @datacomp, else clip; recorded",
        None, choices=PROFILE_NAMES, legacy="clip")
    prompt_source: str | None = option(
        "--prompt-source", "whose class names and templates: clip (the CLIP repository's data/prompts.md) or "
        "clip_benchmark (CLIP_benchmark's JSON files, which open_clip's published table used; the only source for "
        "another --language); default: the --profile's; recorded", None, choices=PROMPT_SOURCES)
    languages: list[str] = option(
        "--language", "language(s) of class names, templates and captions; repeatable: CODE (CLIP_benchmark's: en, "
        "cn, it, jp, ar for ImageNet-class tasks; Babel-ImageNet's 90 such as de, zh; a retrieval set's own, "
        "`zsbench tasks --languages TASK`), all (every language each task has) or @SET (@babel, @xtd10, "
        "@crossmodal3600, @flores200, ...); one record per task and language, image features computed once; "
        "default: each task's English", [], kind="list", metavar="CODE|all|@SET", record=False, result=False)
    language: str = option(None, "the language of this run's names, templates and captions (one of --language's)",
                           "en", kind="internal")
    limit: int | None = option("--limit", "evaluate a seeded, class-stratified subset of N samples",
                               parse=positive_int, metavar="N")
    seed: int = option("--seed", "seed for subsets, few-shot draws and random-init models (0 to 4294967295; "
                       "default 0)", 0,
                       parse=seed_value)
    target_ci: float | None = option(
        "--target-ci", lambda: "adaptive evaluation: read the test set in a seeded class-stratified random order, in growing "
        "chunks, and stop once the anytime-valid confidence interval of the task's metric over the whole test set "
        "(finite-population empirical-Bernstein confidence sequence) is at most W percentage points wide; protocols "
        "that evaluate on a growing sample: " + ", ".join(name for name, cls in installed() if cls.adaptive) + " (metrics "
        "top-1, top-5, mean per-class recall, and a protocol's own means of 0/1 values, drawn by whole items where its "
        "unit is several images; others run in full and say so); the record's `adaptive` "
        "section has n, N, the interval and the method", None, parse=points, metavar="W", legacy=None)
    confidence: float = option("--confidence", "--target-ci and --top: the confidence level (default 0.95)", 0.95,
                               parse=confidence_level, legacy=0.95)
    top_k: int | None = option(
        "--top", "several models: find the K best on each task by successive elimination on a shared growing sample "
        "(a model leaves once its upper bound is below the K-th best lower bound; intervals at (1-confidence)/M "
        "each) instead of evaluating every model on every image", None, parse=positive_int, metavar="K",
        commands=(RUN, SWEEP), legacy=None)
    assist: str = option(
        "--assist", "--target-ci and --top: earlier models' per-sample results on the same test set as controls for "
        "an assisted confidence sequence, still valid however unrelated they are (docs/adaptive.md): auto (default: "
        "the full records in the results folder on the same data fingerprint; none there: the plain sequence, and "
        "the record says so), none, or a results folder / record file to take them from; the record's "
        "adaptive.assist names the records, the coefficients and the variance reduction", "auto",
        parse=assist_value, metavar="auto|none|RESULTS", commands=(RUN, SWEEP), result=False)
    on_bad_image: str = option("--on-bad-image", "an undecodable image: leave it out and warn once (default), "
                               "or stop with its path", "skip", choices=BAD_IMAGE_POLICIES)
    # compute
    batch_size: int | None = option("--batch-size", "images per forward pass (default auto: 256 on GPU, 32 on "
                                    "CPU; halved on out-of-memory)", None, parse=batch_size_value, metavar="N|auto",
                                    result=False)
    precision: str | None = option("--precision", "image encoder precision: fp32, or bf16/fp16 autocast (fp16: "
                                   "CUDA only); default: the --profile's (fp32; clip_benchmark: its autocast, bf16 on "
                                   "CPU, fp16 on CUDA). Features are cached per precision; recorded", None,
                                   choices=PRECISIONS)
    text_precision: str | None = option("--text-precision", "text encoder precision while building classifiers: "
                                        "fp32, bf16 or fp16 autocast; default: the --profile's (fp32; clip_benchmark: "
                                        "as --precision; datacomp: fp16 on CUDA); recorded", None, choices=PRECISIONS,
                                        legacy="fp32")
    channels_last: bool = option("--channels-last", "run the image encoder in channels-last memory format (helps "
                                 "conv nets such as RN50 / ConvNeXt; recorded)", False, kind="flag")
    device: str = option("--device", "cpu, cuda or cuda:N", "cpu", result=False)
    pixel_cache: str = option(
        "--pixel-cache", "decode each image once for every model of the same geometry (resize, crop): keep the "
        "uint8 crops in the cache and apply each model's normalisation to them (identical pixels); on, off, or auto "
        "(default: on when several models run, within the cap ZSBENCH_PIXEL_CACHE_GB, default 50)", "auto",
        choices=("auto", "on", "off"), result=False, commands=(RUN, SWEEP), legacy="auto")
    decode: str = option(
        "--decode", "how images are decoded and resized: pil (default: the model's own PIL preprocessing, the "
        "reference) or tensor (torchvision.io on the --device, nvJPEG on a GPU, then the model's Resize and "
        "CenterCrop on uint8 tensors: keeps a GPU fed; close to pil but not bit-identical, so cached apart; "
        "recorded)", "pil", choices=DECODES, commands=(RUN, SWEEP), legacy="pil")
    num_workers: int | None = option("--workers", "image decoding workers (default: half the cores; 0: decode in "
                                     "this process)", parse=workers_count,
                                     result=False)
    # probes
    probe_features: str = option("--probe-features", "features for probes: paper (default; the CLIP paper's A.3: "
                                 "before the final projection where the model has one, as for ViTs, else the "
                                 "embedding), embedding, or pre-projection (EfficientNet-Lite0 pooled features for "
                                 "ConSE); the record says which ran", "paper", choices=PROBE_FEATURES)
    probe_tol: float = option("--probe-tol", "probe L-BFGS stops when the largest gradient entry is below this "
                              "(default 1e-4, scikit-learn's default, which the CLIP paper's probe used; 1e-6 "
                              "for flat objectives)", 1e-4, parse=tolerance)
    train_limit: int | None = option("--train-limit", "probes: a seeded class-stratified subset of the training "
                                     "split", parse=positive_int, metavar="N")
    probe_max_iter: int = option("--probe-max-iter", "L-BFGS iterations per fit (default 1000)", 1000,
                                 parse=positive_int)
    probe_stream: str = option(
        "--probe-stream", "probes: fit on training features streamed from the cache chunk by chunk instead of "
        "loaded whole (auto: when an in-memory fit would need over half the RAM, e.g. ImageNet-train-size "
        "features; same optimum, slower per iteration)", "auto", choices=STREAM_MODES, result=False)
    # where things go
    out_dir: Path = option("--out", "output folder for run records (default: results/); {dataset} and "
                           "{dataset_cleaned} are filled in with CLIP_benchmark's name of each task, as in --data-dir "
                           "(e.g. results/{dataset_cleaned}: one folder per dataset)", Path("results"), parse=Path,
                           result=False)
    cache_dir: Path | None = option("--cache-dir", "feature/classifier cache (default: $ZSBENCH_CACHE or "
                                    "~/.cache/zsbench)", parse=Path, result=False)
    wds_cache_dir: Path | None = option(
        "--wds-cache-dir", "where webdataset exports given by URL (--task https://... or hf://...) are fetched to and "
        "read from (default: CACHE/wds-urls; CLIP_benchmark's --wds_cache_dir)", parse=Path, result=False,
        record=False)
    data_dir: Path | None = option("--data-dir", "dataset folder (default: $ZSBENCH_DATA or CACHE/datasets); "
                                   "{dataset} and {dataset_cleaned} are filled in with CLIP_benchmark's dataset name "
                                   "for what each task reads, as its --dataset_root (e.g. /data/wds_{dataset_cleaned})",
                                   parse=Path, result=False)
    skip_existing: bool = option("--skip-existing", "skip work whose record is already in --out (same model and "
                                 "weights, task, protocol, templates and result-changing options; sweeps always "
                                 "do this)", False, kind="flag", commands=(RUN,), record=False, result=False)
    # output (not recorded: they change what is printed, never a number)
    json: bool = option("--json", "print the run records as JSON on stdout", False, kind="flag", record=False)
    output_format: str = option("--format", "zsbench (records only, default) or clip_benchmark: also write each "
                                "zero-shot classification and retrieval record as CLIP_benchmark's result JSON "
                                "({dataset}_{pretrained}_{model}_{language}_{task}.json) under OUT/clip_benchmark/",
                                "zsbench", choices=("zsbench", "clip_benchmark"), commands=(RUN,), record=False,
                                result=False)
    save_logits: bool = option("--save-logits", "also keep each sample's whole probability matrix (float16, tasks of "
                               "up to 1,000 classes) beside the record; records always keep the top-10 classes with "
                               "their probabilities, the true label's probability and the margin", False, kind="flag",
                               result=False, legacy=False)
    quiet: bool = option("--quiet", "no progress bars or notes", False, kind="flag", record=False)
    no_save: bool = option("--no-save", "do not write run records", False, kind="flag", record=False)
    # set by the engine, not the command line
    progress: bool = option(None, "show progress bars", True, kind="internal", record=False)
    sample_size: int | None = option(None, "evaluate the first N samples of the seeded class-stratified order (one "
                                     "round of `sweep --top`; the record's `adaptive` section has the interval)", None,
                                     kind="internal", legacy=None)
    prompt_source_given: Any = option(None, "--prompt-source as given (None: implied per language)", NO_LEGACY,
                                      kind="internal", record=False, result=False)
    #: protocol name -> its options (an instance of ``Protocol.options``), for protocols that declare some;
    #: recorded under the protocol's name in its own records (``protocol_section``)
    protocol_options: dict[str, Any] = option(None, "each protocol's own options", {}, kind="internal", record=False)

    def __post_init__(self) -> None:
        # resolved here, so what is recorded is what ran: the profile (from the suite when not given),
        # then what it decides unless given (--language alone picks the one reference that has it)
        self.profile = self.profile or default_profile(self.tasks)
        profile = get_profile(self.profile)
        if self.languages and len(self.languages) == 1 and not self.languages[0].startswith(("@", "all")):
            self.language = self.languages[0]  # one language: the run's, as before
        if self.prompt_source_given is NO_LEGACY:  # what the user gave, kept for each language's own resolution
            self.prompt_source_given = self.prompt_source
        self.prompt_source = implied_source(self.prompt_source or (profile.prompt_source if self.language == "en"
                                                                   else None), self.language)
        self.precision = self.precision or profile.autocast_dtype("image", self.device)
        self.text_precision = self.text_precision or profile.autocast_dtype("text", self.device)
        if self.target_ci is not None and not 0 < self.target_ci < 100:
            raise UserError(f"--target-ci {self.target_ci:g} is not a width in percentage points: give a number above "
                            "0 and below 100, e.g. --target-ci 2")
        if not 0 < self.confidence < 1:
            raise UserError(f"--confidence {self.confidence:g} must be between 0 and 1, e.g. 0.95")

    def for_language(self, language: str, tasks: list[str] | None = None) -> "RunConfig":
        """This run in one of its languages (on ``tasks``): the prompt source implied for that language unless one
        was given, as a single-language run would have it."""
        from dataclasses import replace

        return replace(self, language=language, languages=[language], prompt_source=self.prompt_source_given,
                       tasks=self.tasks if tasks is None else list(tasks))

    def out_for(self, task: str) -> Path:
        """``--out`` for one task: CLIP_benchmark's ``{dataset}`` / ``{dataset_cleaned}`` filled in (as given when it
        names neither)."""
        from tasks.reference_names import fill_dataset

        text = str(self.out_dir)
        if "{" not in text:
            return self.out_dir
        from tasks.registry import get_task

        try:
            task = get_task(task).name  # a path given as --task: the task's name
        except UserError:
            pass
        return Path(fill_dataset(text, task, "--out"))

    def out_dirs(self, tasks: Sequence[str]) -> list[Path]:
        """Every folder the run's records go to (one per dataset with ``{dataset}`` in ``--out``)."""
        return list(dict.fromkeys(self.out_for(t) for t in tasks)) or [self.out_dir]

    def options_for(self, protocol: Any) -> Any:
        """The options a protocol declares (``Protocol.options``) as this run sets them; defaults where not given.
        None for a protocol that declares none."""
        cls = protocol.options
        if cls is None:
            return None
        given = self.protocol_options.get(protocol.name)
        return given if given is not None else cls()

    def protocol_section(self, name: str) -> dict[str, Any] | None:
        """What a record of protocol ``name`` carries under ``config[name]``: its declared options but those kept at
        the top level (None: the protocol declares no other, or is not installed). Its work key holds the ones not
        at their default (:meth:`protocol_key_section`)."""
        if name not in PROTOCOLS:
            return None
        values = self.options_for(PROTOCOLS.get(name))
        if values is None:
            return None
        section = {f.name: _as_recorded(getattr(values, f.name)) for f in fields(values)
                   if not f.metadata.get("top_level")}
        return section or None

    def protocol_key_section(self, name: str) -> dict[str, Any] | None:
        """The part of :meth:`protocol_section` a work key holds: the options that can change a number, set to
        something else than their declared default. So a protocol that gains an option keeps the keys of the work
        already done (at that option's default), and a record made with the option set is told apart."""
        section = self.protocol_section(name)
        if section is None:
            return None
        declared = PROTOCOLS.get(name).options
        defaults = declared()
        result = {f.name for f in fields(declared) if f.metadata.get("result", True)}
        changed = {k: v for k, v in section.items() if k in result and v != _as_recorded(getattr(defaults, k))}
        return changed or None

    def top_level_options(self) -> dict[str, Any]:
        """Every installed protocol's ``top_level`` options as this run sets them (recorded and keyed like run
        options: see :func:`option`)."""
        return {f.name: _as_recorded(getattr(self.options_for(cls), f.name)) for cls, f in top_level_fields()}

    def __getattr__(self, name: str) -> Any:
        """A protocol's ``top_level`` option read as the run option it was (``config.shots``), for scripts."""
        if name.startswith("_") or name in _FIELD_NAMES:
            raise AttributeError(name)
        for cls, f in top_level_fields():
            if f.name == name:
                return getattr(self.options_for(cls), name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def score_precision(self) -> str:
        """The type zero-shot logits are computed in: the image tower's where the profile computes them
        under the same autocast (clip_benchmark), else fp32."""
        return self.precision if self.profile_spec.image_autocast == "device" else "fp32"

    @property
    def pair_precision(self) -> str:
        """The type retrieval and association scores are computed in: the profile's autocast type for
        them (the embeddings come out of it in that type and are multiplied so), else fp32."""
        return self.profile_spec.autocast_dtype("pair", self.device)

    @property
    def profile_spec(self):
        """The :class:`bench.core.profiles.Profile` this run follows."""
        return get_profile(self.profile)

    @property
    def prompt_choice(self):
        """``--prompt-source`` and ``--language`` as the task layer takes them."""
        from tasks.classes import PromptChoice

        return PromptChoice(self.prompt_source, self.language, self.profile)

    @property
    def save(self) -> bool:
        return not self.no_save

    def result_options(self) -> dict[str, Any]:
        """The recorded options that can change a number (part of every work key)."""
        declared = [f for f in fields(self)] + [f for _, f in top_level_fields()]
        result = {f.name: f.metadata.get("result", True) for f in declared}
        legacy = {f.name: f.metadata.get("legacy", NO_LEGACY) for f in declared}
        return {k: v for k, v in self.recorded().items()
                if result.get(k, False) and not (legacy.get(k, NO_LEGACY) is not NO_LEGACY and v == legacy[k])}

    @classmethod
    def from_recorded(cls, recorded: Mapping[str, Any], **overrides: Any) -> "RunConfig":
        """The configuration a record's ``config`` section describes: every recorded option read back
        with its type (paths, tuples), the rest at its default; ``overrides`` replace any field."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if not f.metadata.get("record", True) or f.name not in recorded:
                continue
            values[f.name] = typed_value(f, recorded[f.name])
        sections: dict[str, dict[str, Any]] = {}
        for protocol, f in top_level_fields():  # kept at the top of config
            if f.name in recorded:
                sections.setdefault(protocol.name, {})[f.name] = recorded[f.name]
        for name, protocol in installed():  # the others, under the protocol's name
            if protocol.options is not None and isinstance(recorded.get(name), Mapping):
                sections.setdefault(name, {}).update(recorded[name])
        if sections:
            values["protocol_options"] = {name: protocol_options_from(PROTOCOLS.get(name), section)
                                          for name, section in sections.items()}
        return cls(**{**values, **overrides})

    def recorded(self) -> dict[str, Any]:
        """The options every record carries in ``config`` (paths as text), the protocols' ``top_level`` ones too."""
        out = {}
        for f in fields(self):
            if f.metadata.get("record", True):
                out[f.name] = _as_recorded(getattr(self, f.name))
        out.update(self.top_level_options())
        return out


def _as_recorded(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


def top_level_fields() -> list[tuple[type, Any]]:
    """(protocol class, field) of every installed protocol's ``top_level`` option."""
    return [(cls, f) for _, cls in installed() if cls.options is not None
            for f in fields(cls.options) if f.metadata.get("top_level")]


_FIELD_NAMES = frozenset(f.name for f in fields(RunConfig))
LEGACY = {f.name: f.metadata.get("legacy", NO_LEGACY) for f in fields(RunConfig)}


def _run_fields(command: str):
    return [f for f in fields(RunConfig) if f.metadata.get("kind") != "internal" and command in f.metadata["commands"]]


def add_run_options(parser: argparse.ArgumentParser, command: str = RUN, model_required: bool = True) -> None:
    """The argparse options of ``command`` generated from :class:`RunConfig`'s fields, then every registered
    protocol's own options (``Protocol.options``; a plug-in's too)."""
    for f in _run_fields(command):
        _add_field(parser, f, command, model_required)
    for name, f in _protocol_fields(command):
        try:
            _add_field(parser, f, command, False, dest=protocol_dest(name, f.name), protocol=name)
        except argparse.ArgumentError as exc:  # a plug-in's flag that another option already has
            import warnings

            warnings.warn(f"protocol '{name}': option {f.metadata['flag']} is not offered ({exc}); rename it in the "
                          "protocol's options")


def protocol_dest(protocol: str, name: str) -> str:
    return f"protocol_option:{protocol}:{name}"


def _protocol_fields(command: str) -> list[tuple[str, Any]]:
    """(protocol name, field) for each option a registered protocol declares for ``command``."""
    return [(name, f) for name, protocol in installed() if protocol.options is not None
            for f in fields(protocol.options)
            if f.metadata.get("kind") != "internal" and command in f.metadata.get("commands", BOTH)]


def protocol_options_from(protocol: Any, values: Mapping[str, Any]) -> Any:
    """A protocol's options instance from recorded or parsed values (unknown keys ignored: an older record)."""
    known = {f.name: f for f in fields(protocol.options)}
    return protocol.options(**{k: typed_value(known[k], v) for k, v in values.items() if k in known})


def typed_value(f: Any, value: Any) -> Any:
    """A recorded (JSON) value as its option field holds it: a path again, a list back to a tuple."""
    if value is not None and f.metadata.get("parse") is Path:
        return Path(value)
    if isinstance(value, list) and isinstance(f.default, tuple):
        return tuple(value)
    return value


def help_text(f: Any) -> str:
    """An option field's help, made now where it is a function (a list of what is installed)."""
    text = f.metadata.get("help", "")
    return text() if callable(text) else text


def add_options(parser: argparse.ArgumentParser, *names: str, **helps: str) -> None:
    """Some of :class:`RunConfig`'s options, for a command that is not a run (predict, doctor, tasks):
    the same flag, parser, choices and default as ``run`` has, so a shared flag is declared once.
    ``helps``: field name -> help text where the command uses the option differently."""
    by_name = {f.name: f for f in fields(RunConfig)}
    for name in names:
        _add_field(parser, by_name[name], None, False, helps.get(name))


def _add_field(parser: argparse.ArgumentParser, f, command: str | None, model_required: bool,
               help: str | None = None, dest: str | None = None, protocol: str | None = None) -> None:
    m = f.metadata
    kwargs: dict[str, Any] = {"help": help or help_text(f), "dest": dest or f.name}
    if protocol is not None:  # a protocol's own option: said in its help, absent from the namespace unless given
        kwargs["help"] = f"[--protocol {protocol}] {kwargs['help']}"
        kwargs["default"] = argparse.SUPPRESS
        if not m["metavar"] and not m["choices"] and m["kind"] != "flag":
            kwargs["metavar"] = f.name.upper()
    if m["kind"] == "flag":
        parser.add_argument(m["flag"], action="store_true", **kwargs)
        return
    if m["choices"]:
        kwargs["choices"] = list(m["choices"])
    if m["metavar"]:
        kwargs["metavar"] = m["metavar"]
    if m["kind"] == "models":
        which = parser.add_mutually_exclusive_group(required=model_required)
        which.add_argument("--model", action="append", dest="models", help=kwargs["help"])
        parser.add_argument("--pretrained", action="append", dest="pretrained",
                            help="pretrained tag, checkpoint file, or 'none' (random init); one per --model, in order")
        which.add_argument("--pretrained-model", action="append", dest="pretrained_models", metavar="MODEL,TAG",
                            help="CLIP_benchmark's --pretrained_model: 'model,pretrained', a collection (openai, "
                                 "openclip_base, openclip_multilingual, openclip_all) or a file of 'model,pretrained' "
                                 "lines; repeatable; replaces --model/--pretrained")
        parser.add_argument("--all-pairs", action="store_true", dest="all_pairs",
                            help="every --model with every --pretrained (CLIP_benchmark's product) instead of one "
                                 "--pretrained per --model in order")
        return
    if m["parse"] is not None:
        kwargs["type"] = m["parse"]
    if m["kind"] == "list":
        parser.add_argument(m["flag"], action="append", required=(f.name == "tasks" and command == RUN), **kwargs)
        return
    if "default" not in kwargs:
        kwargs["default"] = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
    parser.add_argument(m["flag"], **kwargs)


def pair_models(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """The run's (model, pretrained) pairs from ``--model``/``--pretrained`` (in order, ``@collection`` expanded, or
    every pair with ``--all-pairs``) or ``--pretrained-model`` (:mod:`bench.models.collections`)."""
    from bench.models.collections import model_pairs

    return model_pairs(getattr(args, "models", None) or [], getattr(args, "pretrained", None) or [],
                       getattr(args, "pretrained_models", None), getattr(args, "all_pairs", False))


def config_from_args(args: argparse.Namespace, command: str = RUN, **overrides: Any) -> RunConfig:
    """The :class:`RunConfig` that the parsed options of ``command`` describe."""
    values: dict[str, Any] = {}
    for f in _run_fields(command):
        if f.metadata["kind"] == "models":
            values["models"] = pair_models(args)
        elif f.metadata["kind"] == "list":
            given = getattr(args, f.name, None)
            if given:
                values[f.name] = list(given)
        else:
            values[f.name] = getattr(args, f.name)
    values.update(overrides)
    options = _protocol_options_from_args(args, command, values.get("protocols") or [])
    if options:
        values["protocol_options"] = options
    config = RunConfig(**values)
    config.progress = not config.quiet and not config.json
    return config


def _protocol_options_from_args(args: argparse.Namespace, command: str, protocols: list[str]) -> dict[str, Any]:
    """Each protocol's options as given; an option of a protocol the run does not ask for is refused."""
    given: dict[str, dict[str, Any]] = {}
    for name, f in _protocol_fields(command):
        dest = protocol_dest(name, f.name)
        if hasattr(args, dest):
            given.setdefault(name, {})[f.name] = getattr(args, dest)
    for name, values in given.items():
        own = [f for f in fields(PROTOCOLS.get(name).options) if f.name in values and not f.metadata.get("top_level")]
        if own and name not in protocols:  # named explicitly: a task's default protocol takes none of these
            flags = ", ".join(f.metadata["flag"] for f in own)
            raise UserError(f"{flags} is an option of --protocol {name}, which this run does not ask for: add "
                            f"--protocol {name} or drop {flags}")
    return {name: protocol_options_from(PROTOCOLS.get(name), values) for name, values in given.items()}


def config_dict(config: RunConfig) -> dict[str, Any]:
    """Every field as JSON-able data (for tests and debugging; records use ``recorded()``)."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
