"""The public contracts (bench.contracts): every built-in backend and protocol passes them, a demo
plug-in passes them, and broken plug-ins are caught with the name of the check they fail."""
from __future__ import annotations

import pytest
import torch

from bench.contracts import PAIRED_TEST_CHECKS, PROTOCOL_CHECKS, ContractError, check_backend, check_protocol
from bench.engine.protocol_registry import PROTOCOLS, protocol_class

pytestmark = pytest.mark.slow  # each runs a model on generated data through the engine

#: every protocol the registry holds when the tests are collected (built-ins, and any plug-in installed)
REGISTERED = tuple(PROTOCOLS.names())
_RESULTS: dict = {}


def contract_result(name: str) -> tuple[tuple[str, ...], ContractError | None]:
    """(checks passed, the failure or None) of a registered protocol, run once per test process."""
    if name not in _RESULTS:
        try:
            _RESULTS[name] = (tuple(check_protocol(protocol_class(name))), None)
        except ContractError as exc:
            _RESULTS[name] = (exc.passed, exc)
    return _RESULTS[name]


@pytest.mark.parametrize("name", REGISTERED)
def test_every_builtin_protocol_passes(name):
    passed, error = contract_result(name)
    assert error is None, str(error)
    assert "the same run gives the same metrics" in passed and "every declared metric is measured" in passed


@pytest.mark.parametrize("name, check", [(n, c) for n in REGISTERED for c in PROTOCOL_CHECKS],
                         ids=[f"{n}: {c}" for n in REGISTERED for c in PROTOCOL_CHECKS])
def test_protocol_contract(name, check):
    """Each check of each registered protocol, its own test (scikit-learn's parametrize_with_checks)."""
    passed, error = contract_result(name)
    if check in passed:
        return
    if error is not None:
        pytest.fail(str(error) if error.check == check else f"not reached, an earlier check failed: {error}")
    assert check in PAIRED_TEST_CHECKS and protocol_class(name).paired_test is None, f"'{check}' never ran"
    pytest.skip("applies to protocols with a paired test")


def test_the_check_list_is_every_check_a_protocol_runs():
    passed, error = contract_result("zeroshot")  # a paired test: every check applies
    assert error is None and passed == PROTOCOL_CHECKS


def test_every_builtin_protocol_is_checked():
    assert set(PROTOCOLS.names()) >= {"zeroshot", "linear-probe", "few-shot", "robustness", "retrieval",
                                      "association"}


def test_the_open_clip_backend_passes(vit_s32_checkpoint):
    from bench.models.openclip import OpenCLIPBackend

    assert "a second extraction is a cache hit" in check_backend(OpenCLIPBackend, "ViT-S-32", str(vit_s32_checkpoint))
    assert "is a ModelBackend subclass" in check_backend(OpenCLIPBackend, "RN50", "none")


def test_the_transformers_backend_passes(tmp_path):
    from helpers.tiny_hf import build

    from bench.models.hf_transformers import TransformersBackend

    folder = build("clip", tmp_path)
    assert "encode_texts gives [n, embed_dim] finite rows" in check_backend(TransformersBackend,
                                                                            f"transformers:{folder}")


def test_the_conse_backend_passes():
    from bench.models.conse import ConSEBackend

    class SingleTemplateConSE(ConSEBackend):
        """ConSE with its ImageNet label embeddings from one template (1,000 prompts, not 80,000: seconds,
        not minutes, here); everything the contract checks is the same code path."""

        @classmethod
        def from_request(cls, name, pretrained, options):
            return cls(top_t=cls.parse_top_t(pretrained), device=options.device, store=options.store,
                       label_templates="single")

    assert "the classifier is [embed_dim, n_classes] with unit columns" in check_backend(
        SingleTemplateConSE, "conse-effnetlite0-minilm", "T=10")


def test_a_plugin_backend_and_protocol_pass():
    from plugins.zsbench_demo_plugin import ColourBackend, FeatureNorm

    assert check_backend(ColourBackend, "colour:v1")
    assert check_protocol(FeatureNorm)


# -- broken plug-ins are caught, each by the check it breaks ------------------------------------------
def _colour():
    from plugins.zsbench_demo_plugin import ColourBackend

    return ColourBackend


def test_a_backend_whose_fingerprint_changes_is_caught():
    class Drifting(_colour()):
        count = 0

        @property
        def fingerprint(self):
            Drifting.count += 1
            return f"drift-{Drifting.count}"

    with pytest.raises(ContractError, match="fingerprint is the same for the same request"):
        check_backend(Drifting, "colour:v1")


def test_a_backend_whose_features_depend_on_the_batch_is_caught():
    class BatchNormish(_colour()):
        def encode_images(self, pixels):
            mean = pixels.mean(dim=(2, 3))
            return mean - mean.mean(dim=0, keepdim=True) + 1e-3  # centred over the batch

    with pytest.raises(ContractError, match="do not depend on its batch"):
        check_backend(BatchNormish, "colour:v1")


def test_a_backend_with_the_wrong_width_is_caught():
    class Narrow(_colour()):
        def encode_texts(self, texts):
            return torch.ones(len(texts), 2)

    with pytest.raises(ContractError, match=r"encode_texts gives \[n, embed_dim\]"):
        check_backend(Narrow, "colour:v1")


def test_a_protocol_that_forgets_a_declared_metric_is_caught():
    from plugins.zsbench_demo_plugin import FeatureNorm

    class Forgetful(FeatureNorm):
        name = "forgetful"
        metrics = ("mean_norm", "max_norm")

    with pytest.raises(ContractError, match=r"every declared metric is measured.*max_norm"):
        check_protocol(Forgetful)


def test_a_protocol_with_a_paired_test_but_no_predictions_is_caught():
    from plugins.zsbench_demo_plugin import FeatureNorm

    class Unpaired(FeatureNorm):
        name = "unpaired"
        paired_test = "mcnemar"

    with pytest.raises(ContractError, match="saves per-sample predictions"):
        check_protocol(Unpaired)


def test_a_protocol_whose_plots_are_not_plot_kinds_is_caught():
    """(Was: an unknown ``role``; roles are gone, a protocol declares its views and plots itself.)"""
    from plugins.zsbench_demo_plugin import FeatureNorm

    class Odd(FeatureNorm):
        name = "odd"

        @classmethod
        def plots(cls):
            return ("headline",)

    with pytest.raises(ContractError, match="plots are PlotKinds"):
        check_protocol(Odd)


def test_a_protocol_whose_options_are_not_declared_options_is_caught():
    from dataclasses import dataclass

    from plugins.zsbench_demo_plugin import FeatureNorm

    @dataclass
    class Bare:
        order: int = 2  # a plain field: no flag, no help

    class Undeclared(FeatureNorm):
        name = "undeclared"
        options = Bare

    with pytest.raises(ContractError, match="options is a dataclass"):
        check_protocol(Undeclared)
