"""Lists of models named as CLIP_benchmark names them: its model collections (``--model @openai``), its
``--pretrained_model`` values (``model,pretrained``, a collection name, or a file of ``model,pretrained`` lines),
and its model x pretrained product (``--all-pairs``).

The collections are facts from CLIP_benchmark 1.6.2, ``clip_benchmark/model_collection.py``; ``openclip_all`` is
open_clip's ``list_pretrained()`` at run time, as there.
"""
from __future__ import annotations

from itertools import product
from pathlib import Path

from bench.core.errors import UserError
from bench.core.paths import user_path

#: CLIP_benchmark 1.6.2's model_collection (clip_benchmark/model_collection.py), but openclip_all
COLLECTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "openclip_base": (("ViT-B-32-quickgelu", "laion400m_e32"), ("ViT-B-32", "laion2b_e16"),
                      ("ViT-B-32", "laion2b_s34b_b79k"), ("ViT-B-16", "laion400m_e32"),
                      ("ViT-B-16-plus-240", "laion400m_e32"), ("ViT-L-14", "laion400m_e32"),
                      ("ViT-L-14", "laion2b_s32b_b82k"), ("ViT-H-14", "laion2b_s32b_b79k"),
                      ("ViT-g-14", "laion2b_s12b_b42k")),
    "openclip_multilingual": (("xlm-roberta-base-ViT-B-32", "laion5b_s13b_b90k"),
                              ("xlm-roberta-large-ViT-H-14", "frozen_laion5b_s13b_b90k")),
    "openai": (("ViT-B-32", "openai"), ("ViT-B-16", "openai"), ("ViT-L-14", "openai"), ("ViT-L-14-336", "openai")),
}
#: computed from the installed open_clip, as CLIP_benchmark does
ALL_OPEN_CLIP = "openclip_all"
NAMES = (*COLLECTIONS, ALL_OPEN_CLIP)


def collection(name: str) -> list[tuple[str, str]]:
    """The (model, pretrained) pairs of one of CLIP_benchmark's collections."""
    if name == ALL_OPEN_CLIP:
        import open_clip

        return [tuple(pair) for pair in open_clip.list_pretrained()]
    if name not in COLLECTIONS:
        raise UserError(f"unknown model collection '@{name}': CLIP_benchmark's are {', '.join('@' + n for n in NAMES)}")
    return list(COLLECTIONS[name])


def read_pairs_file(path: Path) -> list[tuple[str, str]]:
    """CLIP_benchmark's model file: ``model,pretrained`` per line (blank lines skipped)."""
    pairs = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if line:
            pairs.append(_pair(line, f"{path}:{n}"))
    if not pairs:
        raise UserError(f"{path} lists no model: one 'model,pretrained' per line")
    return pairs


def _pair(value: str, where: str) -> tuple[str, str]:
    parts = [p.strip() for p in value.split(",")]
    if len(parts) != 2 or not all(parts):
        raise UserError(f"{where}: '{value}' is not 'model,pretrained' (e.g. ViT-B-32-quickgelu,laion400m_e32), a "
                        f"collection ({', '.join(NAMES)}) or a file of such lines")
    return parts[0], parts[1]


def pretrained_model(value: str) -> list[tuple[str, str]]:
    """One ``--pretrained-model`` value, read as CLIP_benchmark reads ``--pretrained_model``: a file path, a
    collection name, else ``model,pretrained``."""
    path = user_path(value)
    if path.is_file():
        return read_pairs_file(path)
    if value in NAMES:
        return collection(value)
    return [_pair(value, f"--pretrained-model {value}")]


def model_pairs(models: list[str], pretrained: list[str], pretrained_models: list[str] | None = None,
                all_pairs: bool = False) -> list[tuple[str, str | None]]:
    """Every (model, pretrained) of a run: ``--pretrained-model`` values if given (CLIP_benchmark: then --model and
    --pretrained are not used); else ``--model`` values, ``@collection`` ones expanded, each with its
    ``--pretrained`` in order, or, with ``all_pairs``, every model with every pretrained (CLIP_benchmark's product)."""
    if pretrained_models:
        if models or pretrained:
            raise UserError("--pretrained-model names the models itself: drop --model/--pretrained, or drop "
                            "--pretrained-model")
        return list(dict.fromkeys(p for value in pretrained_models for p in pretrained_model(value)))
    if all_pairs:
        if not pretrained or any(m.startswith("@") for m in models):
            raise UserError("--all-pairs pairs every --model with every --pretrained: give --pretrained values, "
                            "and no @collection")
        return list(product(models, pretrained))
    out: list[tuple[str, str | None]] = []
    plain = [m for m in models if not m.startswith("@")]
    if len(pretrained) > len(plain):
        raise UserError(f"{len(pretrained)} --pretrained values for {len(plain)} --model flags: give one per "
                        "model, in order (or --all-pairs for every combination)")
    given = iter(pretrained)
    for m in models:
        if m.startswith("@"):
            out += collection(m[1:])
        else:
            out.append((m, next(given, None)))
    return out
