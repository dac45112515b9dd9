"""Typed records: sections are dataclasses with a format version; records of the earlier format
(tests/fixtures/records_v1, written by main before this change) still load, tabulate and compare;
the doctor and the work key take the recorded RunConfig."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.core.errors import UserError
from bench.engine.config import RunConfig
from bench.engine.record_schema import RECORD_VERSION, Metrics, RecordConfig, RunRecord, TaskInfo
from bench.engine.records import read_record, read_records

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "records_v1"


def test_format_one_records_still_load_as_typed_records():
    records = read_records(V1)
    assert len(records) == 2 and all(r.record_version == 1 for r in records)
    for r in records:
        assert isinstance(r.metrics, Metrics) and isinstance(r.config, RecordConfig) and isinstance(r.task_info, TaskInfo)
        assert r.metrics.primary == r.metrics["top1"] == r.metrics.top1 and 0 <= r.metrics.primary <= 1
        assert r.config.metric == "top1" and r.config.subset == "full" and len(r.config.work_key) == 20
        assert r.task_info.n_classes == 3 and r.task_info.classnames == ["blue circle", "green triangle", "red square"]
        assert r.config["n_templates"] == 1 and r.task_info["feature_cache"] in ("hit", "miss")  # protocol extras
        assert r.path and r.path.endswith(".json")
    assert sorted(r.config.run_config().seed for r in records) == [0, 1]


def test_format_one_records_tabulate_and_compare(tmp_path):
    from bench.report.collect import load_runs
    from bench.report.compare import compare_records
    from bench.report.leaderboard import leaderboard

    runs = load_runs(V1)
    assert set(runs.board) == {"zeroshot"} and runs.zero_shot.all()
    table = leaderboard(runs, history=True)
    assert len(table) == 2 and table["images"].notna().all()
    a, b = sorted(runs.path)
    c = compare_records(a, b, "images", "seed 0", "seed 1", n_resamples=200)
    assert c.n == 18 and c.metric == "top1" and 0 <= c.p_value <= 1


V2 = Path(__file__).resolve().parents[1] / "fixtures" / "records_v2"


@pytest.mark.parametrize("folder", [V1, V2], ids=["format 1", "format 2"])
def test_records_of_every_earlier_format_load_tabulate_compare_and_keep_their_layout(folder):
    """One fixture folder per format version this zsbench has written (records_v2: written by the commit before
    the typed options of RecordConfig); each loads typed, tabulates, compares, and is written back unchanged."""
    from bench.report.collect import load_runs
    from bench.report.compare import compare_records
    from bench.report.leaderboard import leaderboard

    records = read_records(folder)
    assert len(records) == 2 and {r.config.run_config().seed for r in records} == {0, 1}
    for r in records:
        assert isinstance(r.config, RecordConfig) and r.config.profile == "clip" and r.config.language == "en"
        assert r.config.metric == "top1" and r.predictions()["top5"].shape[0] == r.n_samples
        data = json.loads(Path(r.path).read_text())
        assert r.to_dict()["config"] == data["config"]  # no declared option added to an older record's layout
    runs = load_runs(folder)
    assert all(row.record.path == row.path for row in runs.itertuples())  # the table keeps each record
    assert len(leaderboard(runs, history=True)) == 2
    a, b = sorted(runs.path)
    assert compare_records(a, b, "images", "seed 0", "seed 1", n_resamples=200).n == records[0].n_samples


def test_a_record_round_trips_and_keeps_its_layout():
    path = sorted(V1.glob("runs/*.json"))[0]
    data = json.loads(path.read_text())
    record = read_record(path)
    written = record.to_dict()
    for section in ("metrics", "config", "task_info", "model_info", "timings", "versions"):
        assert written[section] == data[section], section  # the same flat JSON object, declared fields and extras
    assert RunRecord.from_dict(written).to_dict() == written


def test_a_record_from_a_newer_zsbench_is_one_line(tmp_path):
    data = json.loads(sorted(V1.glob("runs/*.json"))[0].read_text())
    (tmp_path / "new.json").write_text(json.dumps({**data, "record_version": RECORD_VERSION + 1}))
    with pytest.raises(UserError, match="newer than this zsbench reads .* upgrade zsbench"):
        read_record(tmp_path / "new.json")


def test_the_recorded_run_config_has_every_recorded_option():
    record = read_record(sorted(V1.glob("runs/*.json"))[0])
    config = record.config.run_config()
    assert isinstance(config, RunConfig) and config.precision == "fp32" and config.channels_last is False
    assert config.shots == (1, 2, 4, 8, 16) and isinstance(config.out_dir, Path)
    from bench.engine.config import LEGACY, NO_LEGACY

    for name, value in config.recorded().items():  # everything the record holds, read back with its type
        if name not in record.config:  # an option added since: the value every earlier run had in effect
            assert LEGACY[name] is not NO_LEGACY and value == LEGACY[name], name
            continue
        assert value == record.config[name] or str(value) == str(record.config[name]) or \
            (isinstance(value, tuple) and list(value) == record.config[name]), name


def test_the_doctor_takes_the_recorded_config(tmp_path):
    from bench.apps.doctor import Doctor

    data = json.loads(sorted(V1.glob("runs/*.json"))[0].read_text())
    data["config"].update(channels_last=True, precision="bf16", probe_tol=1e-6)
    (tmp_path / "r.json").write_text(json.dumps(data))
    shutil.copy(sorted(V1.glob("runs/*.npz"))[0], tmp_path / data["predictions_file"])
    doctor = Doctor(tmp_path / "r.json", cache_dir=tmp_path / "c", limit=5, progress=False)
    assert doctor.config.channels_last is True and doctor.config.precision == "bf16"  # not dropped
    assert doctor.config.probe_tol == 1e-6 and doctor.config.limit == 5 and doctor.config.no_save


def test_the_work_key_is_reproduced_from_the_recorded_config(tiny_folder, tmp_path):
    from bench.engine.runner import run
    from bench.engine.work import work_key

    (rec,) = run(RunConfig(models=[("ViT-S-32", "none")], tasks=[str(tiny_folder)], templates=["single"], limit=8,
                           channels_last=True, out_dir=tmp_path / "r", cache_dir=tmp_path / "c", num_workers=0,
                           progress=False))
    saved = read_record(next((tmp_path / "r" / "runs").glob("*.json")))
    assert saved.record_version == RECORD_VERSION
    again = work_key("ViT-S-32", "none", str(tiny_folder), "zeroshot", "single", saved.config.run_config())
    assert again == saved.config.work_key == rec.config.work_key
    changed = work_key("ViT-S-32", "none", str(tiny_folder), "zeroshot", "single",
                       saved.config.run_config(channels_last=False))
    assert changed != again  # a recorded option that changes a number changes the key


#: work keys as zsbench 53e565d computed them, when --shots, --few-shot-seeds, --class-subset, --probe and
#: --probe-search-limit were run options (before their protocols declared them): the same work must keep its key,
#: or every earlier record would be redone by sweeps and --skip-existing
KEYS_BEFORE_PROTOCOL_OPTIONS = {
    ("defaults", "zeroshot"): "81986848f868cdc00e65",
    ("few-shot", "zeroshot"): "7c0444a25e9ba7128a68",
    ("few-shot", "few-shot"): "c3909e865d3a175d72ab",
    ("robustness", "zeroshot"): "6431232e57de78882397",
    ("robustness", "robustness"): "8786064398929a43d290",
    ("linear-probe", "linear-probe"): "9e5e217bf869f46bca68",
    ("linear-probe", "few-shot"): "7458f380de0c715fdef4",
}


def test_options_that_moved_into_their_protocols_keep_every_work_key():
    from bench.engine.work import work_key
    from bench.protocols.few_shot import FewShotOptions
    from bench.protocols.probe import LinearProbeOptions
    from bench.protocols.robustness import RobustnessOptions

    options = {"defaults": {}, "few-shot": {"few-shot": FewShotOptions(shots=(1, 2), few_shot_seeds=2)},
               "robustness": {"robustness": RobustnessOptions(class_subset="full", robustness_probe=True)},
               "linear-probe": {"linear-probe": LinearProbeOptions(probe_search_limit=100)}}
    for (case, protocol), key in KEYS_BEFORE_PROTOCOL_OPTIONS.items():
        config = RunConfig(models=[("ViT-B-32", "openai")], tasks=["cifar10"], protocol_options=options[case])
        assert work_key("ViT-B-32", "openai", "cifar10", protocol, None, config) == key, (case, protocol)
    # and they are still recorded where earlier records have them: at the top of config
    recorded = RunConfig(protocol_options=options["few-shot"]).recorded()
    assert recorded["shots"] == (1, 2) and recorded["few_shot_seeds"] == 2 and recorded["class_subset"] == "restrict"


@pytest.mark.parametrize("task, identity, theirs, file_part, back", [
    ("stanford_cars", "files:1", "cars", "cars", "stanford_cars"),       # their name for our task, not ours
    ("eurosat", "wds:1", "wds/vtab/eurosat", "vtab_eurosat", "vtab/eurosat"),  # their VTAB export: its VTAB task
    ("eurosat", "torchvision:1", "eurosat", "eurosat", "eurosat"),       # torchvision's copy: their plain eurosat
    ("caltech101", "wds:1", "wds/vtab/caltech101", "vtab_caltech101", "vtab/caltech101"),
    ("cifar10", "wds:1", "wds/cifar10", "cifar10", "cifar10"),
    ("digits", "files:1", "digits", "digits", "digits"),                 # no CLIP_benchmark name: ours
    ("caltech101", "files:1", "caltech101", "caltech101", "caltech101"),  # its whole Caltech-101 (--profile)
])
def test_clip_benchmark_results_carry_clip_benchmark_dataset_names(tmp_path, task, identity, theirs, file_part, back):
    """``--format clip_benchmark`` writes the ``--dataset`` CLIP_benchmark is given for the images the record read
    (its ``dataset`` field and file name), and reading such a file back gives the task of ours that names that data
    (VTAB's split of EuroSAT, read from its export, is its vtab/eurosat)."""
    import json

    from bench.engine.clip_benchmark_format import record_from_result, write_result
    from bench.engine.record_schema import RunRecord

    record = RunRecord(model="ViT-B-32", pretrained="openai", task=task, split="test", protocol="zeroshot",
                       metrics={"top1": 0.5, "top5": 0.9, "mean_per_class_recall": 0.5}, n_samples=10,
                       templates="openai_imagenet", seed=0, task_info={"data_identity": identity},
                       config={"profile": "clip_benchmark" if identity == "files:1" else "clip"})
    path = write_result(record, "zeroshot_classification", tmp_path)
    assert path.name == f"{file_part}_openai_ViT-B-32_en_zeroshot_classification.json"
    dump = json.loads(path.read_text())
    assert dump["dataset"] == theirs
    assert record_from_result(dump, path).task == back


def test_a_protocol_that_gains_an_option_keeps_the_keys_of_work_done_at_its_default():
    """Work keys hold a protocol's own options only where set off their declared defaults: retrieval's --recall-k
    (added later) leaves the key of a default run as it was, and a run with other K is told apart."""
    from bench.engine.config import RunConfig
    from bench.engine.work import work_key
    from bench.protocols.retrieval import RetrievalOptions

    def key(**options):
        config = RunConfig(protocol_options={"retrieval": RetrievalOptions(**options)} if options else {})
        return work_key("ViT-B-32", "openai", "flickr30k", "retrieval", None, config)

    assert key() == key(recall_k=(1, 5, 10)) != key(recall_k=(1, 5, 10, 50))
    config = RunConfig(protocol_options={"retrieval": RetrievalOptions(recall_k=(20,))})
    assert config.protocol_section("retrieval") == {"recall_k": (20,)}     # recorded whole
    assert RunConfig().protocol_section("retrieval") == {"recall_k": (1, 5, 10)}


def test_the_profiles_implied_probe_method_is_keyed():
    """Under --profile clip_benchmark the linear probe is CLIP_benchmark's: its work key says so, so a paper-method
    probe record made under that profile before is not taken for it; the paper's keys are unchanged."""
    from bench.engine.config import RunConfig
    from bench.engine.work import work_key
    from bench.protocols.probe import LinearProbeOptions

    def key(profile, **options):
        config = RunConfig(profile=profile,
                           protocol_options={"linear-probe": LinearProbeOptions(**options)} if options else {})
        return work_key("ViT-B-32", "openai", "cifar10", "linear-probe", None, config)

    assert key("clip_benchmark") == key("clip_benchmark", probe_method="clip_benchmark")
    assert key("clip_benchmark") != key("clip_benchmark", probe_method="paper")
    assert key("clip") == key("clip", probe_method="paper") != key("clip", probe_method="clip_benchmark")
