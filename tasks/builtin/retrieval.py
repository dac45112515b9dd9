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
    return SourceSpec("captions", {
        "path": f"{{data_dir}}/{name}/{stem}_{{split}}_karpathy.{suffix}", "layout": layout, "optional": True,
        "images_by_split": {s: "{data_dir}/" + f"{name}/{folder}" for s, folder in images.items()},
        "missing_hint": f"{name} in CLIP_benchmark's layout: {what} in DATA_DIR/{name}/, with "
                        f"{stem}_<split>_karpathy.{suffix} from {ANNOTATIONS}"})


def _retrieval(name: str, repo: str, description: str, images: int, nlphuji: str, local: SourceSpec) -> TaskSpec:
    hint = (f"{name} is not on disk: put CLIP_benchmark's webdataset export ({repo}: test/*.tar with "
            f"KEY.jpg + KEY.txt, captions one per line) at DATA_DIR/wds/{repo.replace('/', '__')}/test/")
    datacomp = SourceSpec("hf_captions", {"repo": f"nlphuji/{nlphuji}", "profile": "datacomp",
                                          "image_column": "image", "caption_column": "caption"})
    return TaskSpec(name=name, kind="retrieval", metric="mean_recall@1", description=description,
                    sources=(SourceSpec("webdataset", {"hf_repo": repo, "missing_hint": hint}), datacomp, local),
                    classnames=None, templates=None, split="test", sizes={"test": images})


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
                         "layout", sources=(annotated("flickr8k", "karpathy_txt", {s: "" for s in SPLITS},
                                                      "the images (Kaggle's flickr8k)"),),
             sizes={"test": 1000}),
]
