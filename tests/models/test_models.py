"""Model loading: names, tags, checkpoints, random init, QuickGELU guard, offline failures."""
from __future__ import annotations

import time
import warnings

import open_clip
import pytest
import torch

from bench.core.errors import UserError
from bench.models import load_model
from bench.models.openclip import _needs_quick_gelu
from helpers.forward import assert_forward_close


@pytest.mark.slow
def test_random_init_is_seeded(store):
    a = load_model("ViT-S-32", "none", seed=1, store=store)
    b = load_model("ViT-S-32", "none", seed=1, store=store)
    c = load_model("ViT-S-32", "none", seed=2, store=store)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.embed_dim == 384
    assert a.info()["context_length"] == 77


@pytest.mark.slow
def test_local_checkpoint_equals_the_saved_model(vit_s32_checkpoint, store, monkeypatch):
    """Loading a local checkpoint gives the saved model: the same weights, bit for bit, and under PyTorch's own
    forward (``ZSBENCH_CPU_FORWARD=eager``) the same features as open_clip's; the default CPU forward (oneDNN)
    within its stated tolerance (tests/helpers/forward.py)."""
    saved = torch.load(vit_s32_checkpoint)
    ref = open_clip.create_model("ViT-S-32", pretrained=None)
    ref.load_state_dict(saved)
    ref.eval()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    default = load_model("ViT-S-32", str(vit_s32_checkpoint), store=store)
    monkeypatch.setenv("ZSBENCH_CPU_FORWARD", "eager")
    eager = load_model("ViT-S-32", str(vit_s32_checkpoint), store=store)
    with torch.inference_mode():
        expected = ref.encode_image(x)
        assert torch.equal(eager.encode_images(x), expected)
        assert eager.image_forward == "eager"
        state = eager.model.state_dict()
        assert state.keys() == saved.keys() and all(torch.equal(state[k], saved[k]) for k in saved)
        assert_forward_close(default.encode_images(x), expected)
        tok = open_clip.get_tokenizer("ViT-S-32")
        # the backend's text path is the exact truncated one: equal up to float rounding of a shorter sum
        assert torch.allclose(eager.encode_texts(["a photo of a cat."]), ref.encode_text(tok(["a photo of a cat."])),
                              atol=1e-5)
    assert default.fingerprint == eager.fingerprint


@pytest.mark.slow
def test_results_do_not_depend_on_batch_size(store):
    backend = load_model("ViT-S-32", "none", store=store)
    x = torch.randn(6, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        whole = backend.encode_images(x)
        one_by_one = torch.cat([backend.encode_images(x[i:i + 1]) for i in range(6)])
    assert (whole - one_by_one).abs().max().item() < 1e-4


def test_quick_gelu_guard():
    assert _needs_quick_gelu("ViT-B-32", "openai")
    assert not _needs_quick_gelu("ViT-B-32-quickgelu", "openai")
    assert not _needs_quick_gelu("ViT-B-32", "laion2b_s34b_b79k")


@pytest.mark.slow
def test_openai_named_checkpoint_without_quickgelu_warns(vit_s32_checkpoint, tmp_path, store):
    renamed = tmp_path / "ViT-S-32-openai.pt"
    renamed.write_bytes(vit_s32_checkpoint.read_bytes())
    with pytest.warns(UserWarning, match="QuickGELU"):
        load_model("ViT-S-32", str(renamed), store=store)


@pytest.mark.parametrize("name, pretrained, match", [
    ("ViT-B-33", "none", "unknown model 'ViT-B-33': did you mean ViT-B-32"),
    ("ViT-S-32", "/no/such/file.pt", "checkpoint file not found: /no/such/file.pt"),
    ("ViT-B-32", "laion9b", "unknown pretrained tag 'laion9b' for ViT-B-32"),
    ("ViT-B-32", None, "needs --pretrained"),
    ("conse-effnetlite0-minilm", "T=abc", "T=<k>"),
])
def test_bad_model_input(name, pretrained, match, store):
    with pytest.raises(UserError, match=match):
        load_model(name, pretrained, store=store)


def test_offline_download_fails_fast_with_one_line(store):
    """With the hub unreachable, a tag that is not cached fails at once, naming the fix."""
    t0 = time.perf_counter()
    with pytest.raises(UserError) as err, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_model("RN50", "yfcc15m", store=store)
    assert time.perf_counter() - t0 < 30
    msg = str(err.value)
    assert "network is unreachable" in msg and "--pretrained /path/to/checkpoint.pt" in msg and "\n" not in msg


@pytest.mark.slow
def test_checkpoint_of_another_architecture(vit_s32_checkpoint, store):
    with pytest.raises(UserError, match="does not load into RN50"):
        load_model("RN50", str(vit_s32_checkpoint), store=store)
