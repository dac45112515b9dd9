"""The DataComp tasks (Gadre et al. 2023, ``tasklist.yml``) beyond the CLIP paper's suite and
ImageNet's shifts: ImageNet-O, Pascal VOC 2007 (CLIP_benchmark's single-label crops), CLEVR
distance, WinoGAViL, the WILDS sets iWildCam, Camelyon17 and FMoW, and the fairness sets Dollar
Street and GeoDE.

DataComp evaluates each from its own webdataset export, with the class names and templates the
export ships (``classnames.txt``, ``zeroshot_classification_templates.txt``), so these tasks take
both from the data ("source"): there is no other published list for them. Main metrics are
DataComp's (``main_metric`` in tasklist.yml; top-1 where it names none); the per-sample metadata
columns are those of DataComp's evaluators (``eval_utils/wilds_eval.py``, ``fairness_eval.py``).
"""
from tasks.builtin.common import datacomp_wds, wds
from tasks.spec import SourceSpec, TaskSpec

#: this family's specs; tasks.registry registers them
SPECS: list[TaskSpec] = []


def _from_export(name: str, export: str, description: str, n_classes: int, size: int,
                 clip_benchmark: str | None = None, **fields) -> TaskSpec:
    sources = (datacomp_wds(export),) + ((wds(clip_benchmark),) if clip_benchmark else ())
    return TaskSpec(name=name, description=description, sources=sources, classnames="source", templates="source",
                    n_classes=n_classes, sizes={"test": size}, **fields)


SPECS.append(TaskSpec(
    name="voc2007_multilabel", kind="multilabel", metric="mean_average_precision", split="test", n_classes=20,
    description="Pascal VOC 2007 test, every label of each whole image (CLIP_benchmark's voc2007_multilabel): "
                "20 classes, mean average precision", sizes={"test": 4952},
    sources=(SourceSpec("voc2007", {"path": "{data_dir}/voc2007"}),), classnames="source",
    templates=["a photo of a {}."]))  # CLIP_benchmark's en_zeroshot_classification_templates.json, voc2007_multilabel

SPECS += [
    _from_export("imagenet-o", "imagenet-o", "ImageNet-O (Hendrycks et al. 2021): 2,000 adversarially filtered "
                 "out-of-distribution images, labelled with 200 ImageNet classes", 200, 2000, "imagenet-o"),
    _from_export("voc2007", "voc2007", "Pascal VOC 2007 test, one sample per object crop (CLIP_benchmark's "
                 "single-label version): 20 classes", 20, 14976, "voc2007"),
    _from_export("clevr_distance", "vtab/clevr_closest_object_distance", "CLEVR distance to the closest object "
                 "(VTAB): 6 classes", 6, 15000, "vtab-clevr_closest_object_distance"),
    _from_export("iwildcam", "wilds/iwildcam", "iWildCam (WILDS): camera-trap animals, 182 classes; scored by "
                 "macro F1 over the classes present in the test labels", 182, 42791, metric="F1-macro_all"),
    _from_export("camelyon17", "wilds/camelyon17", "Camelyon17 (WILDS): tumour tissue patches from held-out "
                 "hospitals, 2 classes", 2, 85054),
    _from_export("fmow", "wilds/fmow", "FMoW (WILDS): satellite images, 62 land-use classes; worst accuracy over "
                 "regions", 62, 22108, metric="acc_worst_region",
                 groups={"fields": ["region", "year", "y"], "by": "region", "metric": "acc_worst_region"}),
    _from_export("dollar_street", "dollar_street", "Dollar Street: household objects from homes of every "
                 "income, 58 classes; worst top-5 accuracy over income groups", 58, 3503, metric="acc_top5_wg",
                 groups={"fields": ["income_ds", "income_meta", "region"], "by": "income_ds", "metric": "acc_top5_wg",
                         "topk": 5}),
    _from_export("geode", "geode", "GeoDE: 40 object classes photographed in six world regions; worst accuracy "
                 "over regions", 40, 12488, metric="acc_wg",
                 groups={"fields": ["region", "country"], "by": "region", "metric": "acc_wg"}),
    TaskSpec(name="winogavil", kind="association", metric="jaccard_score_10-12", classnames=None, templates=None,
             description="WinoGAViL (Bitton et al. 2022): pick the candidate images a cue word is associated with; "
                         "Jaccard index, mean over instances with 10-12 candidates",
             sources=(SourceSpec("association", {"path": "{data_dir}/winogavil/{split}.jsonl",
                                                 "hf_repo": "nlphuji/winogavil"}),),
             sizes={"test": 3563}),
]
