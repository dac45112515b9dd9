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


def _retrieval(name: str, repo: str, description: str, images: int, nlphuji: str) -> TaskSpec:
    hint = (f"{name} is not on disk: put CLIP_benchmark's webdataset export ({repo}: test/*.tar with "
            f"KEY.jpg + KEY.txt, captions one per line) at DATA_DIR/wds/{repo.replace('/', '__')}/test/")
    datacomp = SourceSpec("hf_captions", {"repo": f"nlphuji/{nlphuji}", "profile": "datacomp",
                                          "image_column": "image", "caption_column": "caption"})
    return TaskSpec(name=name, kind="retrieval", metric="mean_recall@1", description=description,
                    sources=(SourceSpec("webdataset", {"hf_repo": repo, "missing_hint": hint}), datacomp),
                    classnames=None, templates=None, split="test", sizes={"test": images})


SPECS += [
    _retrieval("flickr30k", "clip-benchmark/wds_flickr30k",
               "Flickr30k retrieval, Karpathy test split: 1,000 images x 5 captions", 1000,
               "flickr_1k_test_image_text_retrieval"),
    _retrieval("mscoco", "clip-benchmark/wds_mscoco_captions",
               "MSCOCO (2014) retrieval, Karpathy 5k test split: 5,000 images x ~5 captions", 5000,
               "mscoco_2014_5k_test_image_text_retrieval"),
]
