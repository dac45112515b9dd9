"""Zero-shot retrieval against CLIP_benchmark's ``zeroshot_retrieval.evaluate`` on generated
captioned images, and the caption formats (open_clip's CSV/TSV, JSON lines)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.core.errors import UserError
from conftest import make_image

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30), "yellow": (200, 200, 40)}


@pytest.fixture
def captioned(tmp_path):
    """12 images, 2-3 captions each, in open_clip's CSV layout (several rows per image)."""
    rng = np.random.default_rng(0)
    rows = ["filepath,title"]
    for i in range(12):
        colour, shape = list(COLOURS)[i % 4], ("square", "circle")[i % 2]
        make_image(rng, COLOURS[colour], shape).save(tmp_path / f"img{i}.png")
        caps = [f"a {colour} {shape}", f"a photo of a {shape} that is {colour}", f"picture number {i}"][: 2 + i % 2]
        rows += [f"img{i}.png,\"{c}\"" for c in caps]
    (tmp_path / "captions.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "captions.csv"


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["clip", "clip_benchmark"])
def test_recalls_equal_clip_benchmark(captioned, vit_s32_checkpoint, tmp_path, profile):
    """clip: CLIP_benchmark with --no_amp; clip_benchmark: with its default autocast (bf16 on CPU). Recall@K at
    any K (--recall-k 2,3,7 beside the 1, 5, 10 always reported), as its --recall_k."""
    import open_clip
    from clip_benchmark.metrics.zeroshot_retrieval import evaluate

    from bench.engine.runner import RunConfig, run
    from bench.protocols.retrieval import RetrievalOptions
    from tasks.sources.captions import read_caption_table

    (rec,) = run(RunConfig(models=[("ViT-S-32", str(vit_s32_checkpoint))], tasks=[str(captioned)],
                           out_dir=tmp_path / "r", cache_dir=tmp_path / "c", num_workers=0, progress=False,
                           profile=profile, batch_size=5,
                           protocol_options={"retrieval": RetrievalOptions(recall_k=(2, 3, 7))}))  # CLIP_benchmark's batch below: on CPUs with AMX,
    # bf16 autocast features depend on the batch they are computed in, and random-init scores tie often
    assert rec.protocol == "retrieval" and rec.config["metric"] == "mean_recall@1"  # the task's default protocol

    model, _, preprocess = open_clip.create_model_and_transforms("ViT-S-32", pretrained=str(vit_s32_checkpoint))
    model.eval()
    tokenizer = open_clip.get_tokenizer("ViT-S-32")
    source = read_caption_table(captioned)

    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return len(source)

        def __getitem__(self, i):
            return preprocess(source.load(i)), source.captions[i]

    loader = torch.utils.data.DataLoader(Pairs(), batch_size=5, collate_fn=lambda b: (torch.stack([x for x, _ in b]),
                                                                                       [t for _, t in b]))
    theirs = evaluate(model, loader, tokenizer, "cpu", amp=profile == "clip_benchmark",
                      recall_k_list=[1, 2, 3, 5, 7, 10])
    assert len(theirs) == 12 and rec.config["recall_k"] == [1, 2, 3, 5, 7, 10]
    assert list(rec.config["retrieval"]["recall_k"]) == [2, 3, 7]
    for key, value in theirs.items():
        assert rec.metrics[key] == pytest.approx(value, abs=1e-9), key
    assert rec.metrics["mean_recall@1"] == pytest.approx(
        (theirs["image_retrieval_recall@1"] + theirs["text_retrieval_recall@1"]) / 2)
    assert rec.n_samples == 12 and rec.task_info["n_captions"] == source.n_captions == 30
    assert 0 < rec.metrics["image_retrieval_recall@10"] <= 1 and rec.metrics["image_retrieval_recall@1"] < 1


def test_blocked_recalls_equal_the_whole_matrix():
    from bench.engine.metrics import retrieval_recalls

    g = torch.Generator().manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(50, 8, generator=g), dim=-1)
    txt = torch.nn.functional.normalize(torch.randn(130, 8, generator=g), dim=-1)
    owner = np.arange(130) % 50
    whole, _ = retrieval_recalls(img, txt, owner, block=10_000)
    blocked, _ = retrieval_recalls(img, txt, owner, block=7)
    assert whole == blocked
    # by hand for k=1: text -> image
    best = (txt @ img.T).argmax(dim=1).numpy()
    assert whole["image_retrieval_recall@1"] == pytest.approx(float((best == owner).mean()))
    # per-sample ranks, by hand from the whole score matrix, and recall@k as their share within k
    ranks: dict = {}
    retrieval_recalls(img, txt, owner, block=7, ranks=ranks)
    scores = (txt @ img.T).numpy()
    hand_caption = [1 + int((scores[j] > scores[j, owner[j]]).sum()) for j in range(130)]
    hand_image = [1 + int((scores[:, i] > scores[owner == i, i].max()).sum()) for i in range(50)]
    assert ranks["caption_rank"].tolist() == hand_caption and ranks["image_caption_rank"].tolist() == hand_image
    for k in (1, 5, 10):
        assert whole[f"image_retrieval_recall@{k}"] == pytest.approx(float((ranks["caption_rank"] <= k).mean()))
        assert whole[f"text_retrieval_recall@{k}"] == pytest.approx(float((ranks["image_caption_rank"] <= k).mean()))


def test_caption_formats_group_rows_by_image(tmp_path):
    from tasks.sources.captions import read_caption_jsonl, read_caption_table

    rng = np.random.default_rng(1)
    for name in ("a.png", "b.png"):
        make_image(rng, (200, 10, 10), "square").save(tmp_path / name)
    (tmp_path / "c.tsv").write_text("filepath\ttitle\na.png\tone\nb.png\ttwo\na.png\tthree\n")
    src = read_caption_table(tmp_path / "c.tsv")
    assert [p.name for p in src.paths] == ["a.png", "b.png"] and src.captions == [["one", "three"], ["two"]]
    (tmp_path / "c.csv").write_text("img,text\na.png,x\n")
    assert read_caption_table(tmp_path / "c.csv", image_column="img", caption_column="text").captions == [["x"]]
    (tmp_path / "c.jsonl").write_text(json.dumps({"image": "a.png", "captions": ["p", "q"]}) + "\n" +
                                      json.dumps({"image": "b.png", "caption": "r"}) + "\n")
    assert read_caption_jsonl(tmp_path / "c.jsonl").captions == [["p", "q"], ["r"]]
    (tmp_path / "bad.csv").write_text("filepath,title\nmissing.png,hello\n")
    with pytest.raises(UserError, match="bad.csv:2: image file"):
        read_caption_table(tmp_path / "bad.csv")
    (tmp_path / "nocap.csv").write_text("filepath,label\na.png,cat\n")
    from tasks.registry import get_task

    assert get_task(str(tmp_path / "nocap.csv")).kind == "classification"  # a path,label manifest stays one
    assert get_task(str(tmp_path / "c.tsv")).kind == "retrieval"


def test_zeroshot_on_captions_is_refused_with_the_fix(captioned, tmp_path):
    from bench.engine.runner import RunConfig, run

    with pytest.raises(UserError, match="--protocol retrieval"):
        run(RunConfig(models=[("ViT-S-32", "none")], tasks=[str(captioned)], protocols=["zeroshot"], no_save=True,
                      cache_dir=tmp_path / "c", progress=False))


def test_clip_benchmark_retrieval_webdataset_layout(tmp_path):
    """KEY.png + KEY.txt (captions one per line), as CLIP_benchmark's wds_flickr30k is written."""
    import io
    import tarfile

    from tasks.registry import get_task
    from tasks.sources import DataContext, open_source

    root = tmp_path / "data" / "wds" / "clip-benchmark__wds_flickr30k" / "test"
    root.mkdir(parents=True)
    rng = np.random.default_rng(2)
    with tarfile.open(root / "0.tar", "w") as tar:
        for i in range(3):
            buf = io.BytesIO()
            make_image(rng, (200, 20, 20), "square").save(buf, format="PNG")
            for name, data in ((f"s{i:03d}.png", buf.getvalue()), (f"s{i:03d}.txt", f"cap {i} a\ncap {i} b\n".encode())):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    src = open_source(get_task("flickr30k"), "test", DataContext(tmp_path / "data", None))
    assert len(src) == 3 and src.captions[2] == ["cap 2 a", "cap 2 b"] and list(src.targets) == [0, 1, 2]


def test_datacomp_reads_nlphujis_captions_first(tmp_path):
    """Under --profile datacomp the retrieval sets come from nlphuji's Hugging Face copies, as DataComp's
    retr_eval.py reads them; under the others CLIP_benchmark's exports stay first and nlphuji's copy is a
    fallback that is said. A local parquet file stands in for the hub here."""
    import dataclasses

    import datasets
    from PIL import Image

    from tasks.registry import get_task
    from tasks.sources import DataContext, open_source

    spec = get_task("flickr30k")
    nlphuji = spec.sources[1]
    assert nlphuji.type == "hf_captions" and nlphuji.options["profile"] == "datacomp"
    assert nlphuji.options["repo"] == "nlphuji/flickr_1k_test_image_text_retrieval"
    rows = {"image": [Image.new("RGB", (8, 8), (i * 80, 0, 0)) for i in range(3)],
            "caption": [[f"cap {i} a", f"cap {i} b"] for i in range(3)]}
    datasets.Dataset.from_dict(rows, features=datasets.Features(
        {"image": datasets.Image(), "caption": datasets.Sequence(datasets.Value("string"))})).to_parquet(
        str(tmp_path / "flickr.parquet"))
    local = dataclasses.replace(nlphuji, options={**nlphuji.options, "repo": "parquet", "local": True,
                                                  "data_files": {"test": str(tmp_path / "flickr.parquet")}})
    task = dataclasses.replace(spec, sources=(spec.sources[0], local))
    dc = open_source(task, "test", DataContext(tmp_path / "data", None, "datacomp"))
    assert dc.origin.startswith("hf:parquet") and dc.choice_note is None
    assert dc.captions[1] == ["cap 1 a", "cap 1 b"] and list(dc.targets) == [0, 1, 2] and dc.load(2).size == (8, 8)
    clip = open_source(task, "test", DataContext(tmp_path / "data", None, "clip"))
    assert clip.captions == dc.captions and "not from the first choice" in clip.choice_note
