"""Zero-shot retrieval tasks: Flickr30k and MSCOCO on the Karpathy test splits (1,000 and 5,000
images, about 5 captions each), read from CLIP_benchmark's webdataset exports on the Hugging Face
hub (``clip-benchmark/wds_flickr30k``, ``clip-benchmark/wds_mscoco_captions``) or a local copy of
them; scored, as DataComp scores them, by the mean of text->image and image->text recall@1.

DataComp itself reads nlphuji's Hugging Face copies (``nlphuji/flickr_1k_test_image_text_retrieval``,
``nlphuji/mscoco_2014_5k_test_image_text_retrieval``; its eval_utils/retr_eval.py); they are each
task's second source, and the first under ``--profile datacomp``."""
from tasks.spec import SourceSpec, TaskSpec

#: this family's specs; tasks.registry registers them
SPECS: list[TaskSpec] = []


#: where CLIP_benchmark's retrieval annotations are published (its builder downloads them from here)
ANNOTATIONS = "https://github.com/mehdidc/retrieval_annotations/releases/tag/1.0.0"


def annotated(name: str, layout: str, images: dict, what: str) -> SourceSpec:
    """CLIP_benchmark's own layout of ``name`` under DATA_DIR/<name>/ (its --dataset_root): the Karpathy annotation
    file of each split (train, val, test) beside the images, as its builder reads them."""
    suffix = "json" if layout == "coco_json" else "txt"
    stem = "coco" if layout == "coco_json" else name
    chinese = {} if layout == "coco_json" else {  # Flickr's Chinese captions (its --language zh; Flickr30k-CN)
        "path_by_language": f"{{data_dir}}/{name}/{name}_{{split}}_{{language}}.txt", "languages": ["en", "zh"]}
    return SourceSpec("captions", {
        "path": f"{{data_dir}}/{name}/{stem}_{{split}}_karpathy.{suffix}", "layout": layout, "optional": True,
        **chinese,
        "images_by_split": {s: "{data_dir}/" + f"{name}/{folder}" for s, folder in images.items()},
        "missing_hint": f"{name} in CLIP_benchmark's layout: {what} in DATA_DIR/{name}/, with "
                        f"{stem}_<split>_karpathy.{suffix}" + ("" if layout == "coco_json" else
                                                               f" (Chinese: {name}_<split>_zh.txt)") +
                        f" from {ANNOTATIONS}"})


def _retrieval(name: str, repo: str, description: str, images: int, nlphuji: str, local: SourceSpec) -> TaskSpec:
    hint = (f"{name} is not on disk: put CLIP_benchmark's webdataset export ({repo}: test/*.tar with "
            f"KEY.jpg + KEY.txt, captions one per line) at DATA_DIR/wds/{repo.replace('/', '__')}/test/")
    datacomp = SourceSpec("hf_captions", {"repo": f"nlphuji/{nlphuji}", "profile": "datacomp",
                                          "image_column": "image", "caption_column": "caption", "languages": ["en"]})
    return TaskSpec(name=name, kind="retrieval", metric="mean_recall@1", description=description,
                    sources=(SourceSpec("webdataset", {"hf_repo": repo, "missing_hint": hint, "languages": ["en"]}),
                             datacomp, local),
                    classnames=None, templates=None, split="test", sizes={"test": images},
                    languages="flickr_zh" if local.options.get("languages") else None)


SPLITS = ("train", "val", "test")
SPECS += [
    _retrieval("flickr30k", "clip-benchmark/wds_flickr30k",
               "Flickr30k retrieval, Karpathy test split: 1,000 images x 5 captions (train and val: CLIP_benchmark's "
               "layout)", 1000, "flickr_1k_test_image_text_retrieval",
               annotated("flickr30k", "karpathy_txt", {s: "" for s in SPLITS}, "the images (Kaggle's flickr30k)")),
    _retrieval("mscoco", "clip-benchmark/wds_mscoco_captions",
               "MSCOCO (2014) retrieval, Karpathy 5k test split: 5,000 images x ~5 captions (train and val: "
               "CLIP_benchmark's layout)", 5000, "mscoco_2014_5k_test_image_text_retrieval",
               annotated("mscoco", "coco_json", {"train": "train2014", "val": "val2014", "test": "val2014"},
                         "COCO's train2014/ and val2014/ folders")),
    TaskSpec(name="flickr8k", kind="retrieval", metric="mean_recall@1", classnames=None, templates=None, split="test",
             description="Flickr8k retrieval, Karpathy splits (test: 1,000 images x 5 captions), in CLIP_benchmark's "
                         "layout", languages="flickr_zh", sources=(annotated("flickr8k", "karpathy_txt", {s: "" for s in SPLITS},
                                                      "the images (Kaggle's flickr8k)"),),
             sizes={"test": 1000}),
]


def _multilingual(name: str, file: str, languages: str, images: int, get: str, description: str,
                  xm3600: bool = False) -> TaskSpec:
    """A multilingual retrieval set as CLIP_benchmark reads it: DATA_DIR/<name>/ is its --dataset_root, holding the
    annotation file it builds for each language (``file`` with the code) and the images it lists."""
    hint = (f"{name} (--language {{language}}) is not on disk: CLIP_benchmark's annotation file {{path}} is missing; "
            f"{get}")
    return TaskSpec(name=name, kind="retrieval", metric="mean_recall@1", classnames=None, templates=None, split="test",
                    description=description, languages=languages, sizes={"test": images},
                    sources=(SourceSpec("multilingual_captions", {
                        "root": f"{{data_dir}}/{name}", "file": file, "xm3600": xm3600, "optional": True,
                        "missing_hint": hint}),))


#: how CLIP_benchmark makes a set's annotation file (it downloads the images and the language's captions)
_MAKE = ("make it with CLIP_benchmark (it downloads images and captions): python -c \"from clip_benchmark.datasets "
         "import {module}; {module}.create_annotation_file('{{root}}', '{{language}}')\"")
SPECS += [
    _multilingual("xtd10", "xtd10-{language}.json", "xtd10", 1000,
                  _MAKE.format(module="xtd10", name="xtd10"),
                  "XTD10 (Aggarwal and Kale 2020): 1,000 MSCOCO test images, one caption in each of 11 languages"),
    _multilingual("multilingual_mscoco_captions", "multilingual_mscoco_captions-{language}.json",
                  "multilingual_mscoco_captions", 1000,
                  _MAKE.format(module="multilingual_mscoco", name="multilingual_mscoco_captions"),
                  "Multilingual MSCOCO (XTD10's images and captions, CLIP_benchmark's own set): 11 languages"),
    _multilingual("xtd200", "xtd200-{language}.json", "flores200", 1000,
                  _MAKE.format(module="xtd200", name="xtd200"),
                  "XTD200 (NLLB-CLIP, Visheratin 2023): XTD10's 1,000 images, captions in 201 FLORES-200 languages "
                  "(codes such as deu_Latn)"),
    _multilingual("flickr30k-200", "flickr30k_200-{language}.json", "flores200", 1000,
                  _MAKE.format(module="flickr30k_200", name="flickr30k-200"),
                  "Flickr30k-200 (NLLB-CLIP, Visheratin 2023): 1,000 Flickr30k test images, captions in 201 FLORES-200 "
                  "languages"),
    _multilingual("crossmodal3600", "crossmodal3600_captions-{language}.json", "crossmodal3600", 3600,
                  "or unpack Crossmodal-3600's captions.zip (google.github.io/crossmodal-3600) and images.tgz "
                  "(open-images-dataset.s3.amazonaws.com/crossmodal-3600) into DATA_DIR/crossmodal3600/xm3600/ "
                  "(captions.jsonl, images/)",
                  "Crossmodal-3600 (Thapliyal et al. 2022): 3,600 images, captions in 36 languages (the first of each)",
                  xm3600=True),
]
