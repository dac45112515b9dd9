"""Evaluation profiles: one switch for every choice on which the three references differ.

A number is only comparable with a published one when it was made the way the published one was,
quirks included. The CLIP paper's protocol (``clip``), ``clip_benchmark eval`` 1.6.2 with its
defaults (``clip_benchmark``) and DataComp's ``evaluate.py`` at mlfoundations/datacomp@4a8df19 with
the clip-benchmark 1.4.0 it pins (``datacomp``) disagree on a handful of small things; each
:class:`Profile` field is one of them, and :data:`DIFFERENCES` says where each reference does it
(file and line), which is what ``docs/reference/profiles.md`` prints.

``clip`` is what zsbench did before profiles existed, so records made then are ``clip`` records
(``bench.engine.record_schema.upgrade``) and their work keys do not change.

Plain data: every layer reads it (prompts, tasks, models, engine, report); it imports nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

CLIP, CLIP_BENCHMARK, DATACOMP = "clip", "clip_benchmark", "datacomp"
PROFILE_NAMES = (CLIP, CLIP_BENCHMARK, DATACOMP)
#: a suite run under the profile of the reference that defined it (``--task @datacomp`` -> datacomp)
SUITE_PROFILES = {"@datacomp": DATACOMP, "@clip": CLIP}


@dataclass(frozen=True)
class Profile:
    name: str
    #: class-name lists and templates for named sets: ``clip`` (CLIP's data/prompts.md) or ``clip_benchmark``
    prompt_source: str
    #: on an export (webdataset with classnames.txt), use its own class names and templates, as both
    #: CLIP_benchmark and DataComp do (they never look at a list of their own for ``wds/`` data)
    export_prompts: bool
    #: blank lines in an export's classnames.txt / templates file: kept (an empty class name, as in
    #: CLEVR distance) or dropped (clip-benchmark 1.4.0; the labels after the blank then shift)
    drop_blank_lines: bool
    #: ``_`` in class names read from data (exports, folders): a space, or kept verbatim
    underscores_to_spaces: bool
    #: image transforms a task spec asks for on top of the data (ObjectNet's 2-px border crop)
    task_transforms: bool
    #: top-5 is reported from this many classes on (1.6.2 and DataComp: 5, where it is trivially 1)
    top5_min_classes: int
    #: autocast of the text tower while building classifiers: ``None`` (fp32), ``"device"`` (torch.autocast
    #: on the run's device: bf16 on CPU, fp16 on CUDA) or ``"cuda"`` (torch.cuda.amp.autocast: fp16 on
    #: CUDA, nothing on CPU)
    text_autocast: str | None
    #: the same for the image tower and the logits of classification (``--precision``'s default)
    image_autocast: str | None
    #: the same for retrieval and WinoGAViL (image and text towers)
    pair_autocast: str | None
    #: Flickr30k / MSCOCO captions: CLIP_benchmark's webdataset exports, or nlphuji's Hugging Face sets
    retrieval_source: str

    def autocast_dtype(self, part: str, device: str) -> str:
        """``fp32``, ``bf16`` or ``fp16``: what ``part`` (text, image, pair) runs in on ``device``."""
        mode = getattr(self, f"{part}_autocast")
        cuda = str(device).startswith("cuda")
        if mode == "device":
            return "fp16" if cuda else "bf16"
        if mode == "cuda":
            return "fp16" if cuda else "fp32"
        return "fp32"


PROFILES: dict[str, Profile] = {
    CLIP: Profile(CLIP, prompt_source="clip", export_prompts=False, drop_blank_lines=False,
                  underscores_to_spaces=True, task_transforms=True, top5_min_classes=6, text_autocast=None,
                  image_autocast=None, pair_autocast=None, retrieval_source="clip_benchmark"),
    CLIP_BENCHMARK: Profile(CLIP_BENCHMARK, prompt_source="clip_benchmark", export_prompts=True,
                            drop_blank_lines=False, underscores_to_spaces=False, task_transforms=False,
                            top5_min_classes=5, text_autocast="device", image_autocast="device",
                            pair_autocast="device", retrieval_source="clip_benchmark"),
    DATACOMP: Profile(DATACOMP, prompt_source="clip_benchmark", export_prompts=True, drop_blank_lines=True,
                      underscores_to_spaces=False, task_transforms=False, top5_min_classes=5, text_autocast="cuda",
                      image_autocast=None, pair_autocast="cuda", retrieval_source="nlphuji"),
}

CB = "LAION-AI/CLIP_benchmark 1.6.2 (= @48de38c)"
CB14 = "LAION-AI/CLIP_benchmark v1.4.0"
DC = "mlfoundations/datacomp@4a8df19"


@dataclass(frozen=True)
class Difference:
    """One choice the references make differently, and where each makes it."""

    what: str
    field: str
    values: dict[str, str]       # profile -> what it does
    sources: tuple[str, ...]     # "repository path:line — what the line does"


DIFFERENCES: tuple[Difference, ...] = (
    Difference("class names and templates of a dataset", "prompt_source / export_prompts",
               {CLIP: "CLIP's data/prompts.md lists", CLIP_BENCHMARK: "the export's classnames.txt and templates "
                "file; CLIP_benchmark's JSON lists for other data", DATACOMP: "the export's files (DataComp reads "
                "only exports)"},
               (f"{CB} clip_benchmark/cli.py:304,307 — zero-shot uses dataset.classes / dataset.templates",
                f"{CB} clip_benchmark/datasets/builder.py:791-800 — a wds/ dataset's lists come from its files",
                f"{DC} eval_utils/wds_eval.py:74-75 — dataset.templates, dataset.classes")),
    Difference("blank lines in classnames.txt / templates", "drop_blank_lines",
               {CLIP: "kept (CLEVR distance has 6 classes, one of them '')", CLIP_BENCHMARK: "kept",
                DATACOMP: "dropped: 5 names for CLEVR distance, labels after the blank shift by one"},
               (f"{CB} clip_benchmark/datasets/builder.py:793 — [line.strip() for line in ...splitlines()]",
                f"{CB14} clip_benchmark/datasets/builder.py:630,637 — ... if line.strip()")),
    Difference("underscores in class names read from data", "underscores_to_spaces",
               {CLIP: "'_' becomes a space", CLIP_BENCHMARK: "verbatim", DATACOMP: "verbatim"},
               (f"{CB} clip_benchmark/datasets/builder.py:793 — names used as read",
                f"{CB} clip_benchmark/metrics/zeroshot_classification.py:48 — template.format(c=classname)")),
    Difference("SUN397, EuroSAT and Caltech-101 images", "(task sources marked exclusive for clip_benchmark)",
               {CLIP: "CLIP_benchmark's exports: SUN397's test split, VTAB's EuroSAT (5,400) and Caltech-101 (6,085) "
                "tests", CLIP_BENCHMARK: "every image of torchvision's SUN397 and EuroSAT and of Caltech-101's "
                "102 folders, no split, named as it names them", DATACOMP: "the exports, as clip"},
               (f"{CB} clip_benchmark/datasets/builder.py:383-388 — SUN397 whole, '_' and '/' as spaces",
                f"{CB} clip_benchmark/datasets/builder.py:401-407 — its own Caltech101 class, whole, its name list",
                f"{CB} clip_benchmark/datasets/caltech101.py:62 — the BACKGROUND_Google folder kept (commented out)",
                f"{CB} clip_benchmark/datasets/builder.py:424-427 — EuroSAT whole, its name list")),
    Difference("ObjectNet's 2-px border", "task_transforms",
               {CLIP: "cropped (the robustness testbed, wise-ft)", CLIP_BENCHMARK: "kept",
                DATACOMP: "kept (its export holds the uncropped images)"},
               (f"{CB} clip_benchmark/datasets/objectnet.py:70-74 — the image goes straight to the transform",)),
    Difference("top-1 on exact logit ties", "(none: one rule)",
               {CLIP: "argmax's first index", CLIP_BENCHMARK: "argmax's first index", DATACOMP: "argmax's first index"},
               (f"{CB} clip_benchmark/metrics/zeroshot_classification.py:225 — logits.argmax(axis=1)",
                f"{DC} eval_utils/wds_eval.py:92 — logits.argmax(axis=1)")),
    Difference("top-5 with exactly 5 classes", "top5_min_classes",
               {CLIP: "not reported (it is 1 by construction)", CLIP_BENCHMARK: "reported",
                DATACOMP: "reported"},
               (f"{CB} clip_benchmark/metrics/zeroshot_classification.py:227 — if len(classes) >= 5",
                f"{DC} eval_utils/wds_eval.py:96 — if len(dataset.classes) >= 5")),
    Difference("text tower while building classifiers", "text_autocast",
               {CLIP: "fp32", CLIP_BENCHMARK: "torch.autocast(device): bf16 on CPU, fp16 on CUDA",
                DATACOMP: "torch.cuda.amp.autocast: fp16 on CUDA, fp32 on CPU"},
               (f"{CB} clip_benchmark/cli.py:42 — --no_amp, so amp is on by default",
                f"{CB} clip_benchmark/metrics/zeroshot_classification.py:40 — torch.autocast(device, enabled=amp)",
                f"{CB14} clip_benchmark/metrics/zeroshot_classification.py:39 — torch.cuda.amp.autocast",
                f"{DC} eval_utils/wds_eval.py:81-87 — zero_shot_classifier with its default amp=True")),
    Difference("image tower and logits in classification", "image_autocast (--precision's default)",
               {CLIP: "fp32", CLIP_BENCHMARK: "torch.autocast(device): bf16 on CPU, fp16 on CUDA", DATACOMP: "fp32"},
               (f"{CB} clip_benchmark/metrics/zeroshot_classification.py:111-114 — encode, normalise and "
                "100 * f @ W under autocast",
                f"{DC} eval_utils/wds_eval.py:88-90 — run_classification(..., amp=False)")),
    Difference("retrieval and WinoGAViL towers", "pair_autocast",
               {CLIP: "fp32", CLIP_BENCHMARK: "torch.autocast(device)", DATACOMP: "torch.cuda.amp.autocast"},
               (f"{CB} clip_benchmark/metrics/zeroshot_retrieval.py:51 — torch.autocast(device, enabled=amp)",
                f"{DC} eval_utils/retr_eval.py:56-58 — zsr.evaluate with its default amp=True",
                f"{DC} eval_utils/wino_eval.py:75 — torch.cuda.amp.autocast()")),
    Difference("Flickr30k / MSCOCO data", "retrieval_source",
               {CLIP: "CLIP_benchmark's exports (wds_flickr30k, wds_mscoco_captions)",
                CLIP_BENCHMARK: "CLIP_benchmark's exports", DATACOMP: "nlphuji's Hugging Face datasets"},
               (f"{DC} eval_utils/retr_eval.py:38-46 — datasets.load_dataset(f'nlphuji/{{task}}', split='test')",)),
)

#: what a profile does not reproduce, and why (printed under the table)
DEVIATIONS: tuple[str, ...] = (
    "datacomp on CUDA: DataComp embeds retrieval images under fp16 autocast; zsbench embeds them at --precision "
    "(fp32), because one feature cache serves classification (fp32 there) and retrieval. On the CPU the two agree.",
    "datacomp, exact logit ties: DataComp's top-1 (zsc.accuracy) takes torch.topk's first tied class while its mean "
    "per-class recall takes argmax's; zsbench takes argmax's first for both. Exact ties need reduced-precision "
    "logits, which the datacomp profile does not use.",
    "clip_benchmark: a blank line inside an export's templates file becomes an empty prompt in 1.6.2; zsbench drops "
    "blank template lines in every profile (no published export has one).",
    "clip_benchmark and datacomp on CUDA: the classifier is averaged in the autocast type, class by class, as on the "
    "CPU, where this is tested bit for bit against CLIP_benchmark 1.6.2; CUDA's fp16 kernels were not available to "
    "test.",
    "Flickr30k / MSCOCO: nlphuji's copies and CLIP_benchmark's exports could not both be read here (no network), so "
    "whether their captions differ is not established; the datacomp profile reads nlphuji's, as DataComp does.",
)


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile '{name}': use one of {', '.join(PROFILE_NAMES)}") from None


def default_profile(tasks: list[str] | tuple[str, ...]) -> str:
    """The profile a run takes when ``--profile`` is not given: the suite's reference when every
    ``--task`` is that suite (``@datacomp`` -> datacomp), else ``clip``."""
    named = {SUITE_PROFILES.get(str(t)) for t in tasks}
    return named.pop() if len(named) == 1 and None not in named else CLIP
