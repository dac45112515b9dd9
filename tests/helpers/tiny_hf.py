"""Tiny random transformers CLIP-family checkpoints, built offline for the tests.

Each has small dimensions, a hand-written vocabulary (a word-level BPE for CLIP, a WordPiece
vocabulary with Chinese characters for Chinese-CLIP, a SentencePiece model trained here on a few
sentences for SigLIP and AltCLIP) and its family's own image processor, saved with
``save_pretrained`` like a real checkpoint. Nothing is downloaded.
"""
from __future__ import annotations

from pathlib import Path

import torch

WORDS = ["a", "photo", "of", "the", "this", "is", "red", "blue", "green", "yellow", "square", "circle", "disc",
         "triangle", "café", "shape", "small", "big", "."]
CHINESE = "一张的照片这是红色蓝绿黄方块圆形三角小大咖啡"
SENTENCES = ["a photo of a red square.", "a photo of the blue circle.", "this is a photo of a green disc.",
             "a small yellow triangle.", "a big café shape.", "a photo of a big red circle."]
VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32,
              patch_size=8)
TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)


def _clip_bpe() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP-style BPE (``</w>`` marks a word's end) whose merges rebuild every word in WORDS."""
    vocab: dict[str, int] = {}
    for c in sorted(set("".join(WORDS)) | set("abcdefghijklmnopqrstuvwxyz.,'!?-")):
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    merges: list[tuple[str, str]] = []
    for w in WORDS:
        parts = list(w[:-1]) + [w[-1] + "</w>"]
        while len(parts) > 1:
            a, b = parts[0], parts[1]
            if (a, b) not in merges:
                merges.append((a, b))
            vocab.setdefault(a + b, len(vocab))
            parts = [a + b] + parts[2:]
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return vocab, merges


def _sentencepiece(folder: Path, vocab_size: int = 64) -> Path:
    import sentencepiece as spm

    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(SENTENCES * 20) + "\n")
    prefix = folder / "spiece"
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(prefix), vocab_size=vocab_size,
                                   model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
                                   minloglevel=2, hard_vocab_limit=False)
    corpus.unlink()
    return prefix.with_suffix(".model")


def build(kind: str, folder: Path, seed: int = 0) -> Path:
    """Save a tiny random ``kind`` (clip, siglip, chinese_clip, altclip) checkpoint into ``folder``."""
    import transformers as T

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    if kind == "clip":
        vocab, merges = _clip_bpe()
        tok = T.CLIPTokenizer(vocab=vocab, merges=merges)
        cfg = T.CLIPConfig(text_config=dict(TEXT, vocab_size=len(vocab), max_position_embeddings=77,
                                            eos_token_id=vocab["<|endoftext|>"], bos_token_id=vocab["<|startoftext|>"],
                                            pad_token_id=vocab["<|endoftext|>"]),
                           vision_config=VISION, projection_dim=16)
        model = T.CLIPModel(cfg)
        proc = T.CLIPProcessor(image_processor=T.CLIPImageProcessor(size={"shortest_edge": 32},
                                                                    crop_size={"height": 32, "width": 32}),
                               tokenizer=tok)
    elif kind == "siglip":
        tok = T.SiglipTokenizer(vocab_file=str(_sentencepiece(folder)))
        cfg = T.SiglipConfig(text_config=dict(TEXT, vocab_size=tok.vocab_size, max_position_embeddings=64),
                             vision_config=VISION)
        model = T.SiglipModel(cfg)
        with torch.no_grad():  # make the bias matter: sigmoid probabilities are not a softmax
            model.logit_bias.fill_(-1.5)
        proc = T.SiglipProcessor(image_processor=T.SiglipImageProcessor(size={"height": 32, "width": 32}),
                                 tokenizer=tok)
    elif kind == "chinese_clip":
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        tokens = list(dict.fromkeys(specials + list(CHINESE) + list(".,。") + WORDS))
        tok = T.BertTokenizer(vocab={t: i for i, t in enumerate(tokens)})
        cfg = T.ChineseCLIPConfig(text_config=dict(TEXT, vocab_size=len(tokens), max_position_embeddings=64),
                                  vision_config=VISION, projection_dim=16)
        model = T.ChineseCLIPModel(cfg)
        proc = T.ChineseCLIPProcessor(image_processor=T.ChineseCLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}), tokenizer=tok)
    elif kind == "altclip":
        import sentencepiece as spm

        sp = spm.SentencePieceProcessor(model_file=str(_sentencepiece(folder)))
        pieces = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(3, sp.get_piece_size())]
        tok = T.XLMRobertaTokenizer(vocab=[("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + pieces +
                                    [("<mask>", 0.0)])
        (folder / "spiece.model").unlink()
        cfg = T.AltCLIPConfig(text_config=dict(TEXT, vocab_size=len(tok), max_position_embeddings=70,
                                               project_dim=16, pad_token_id=tok.pad_token_id),
                              vision_config=VISION, projection_dim=16)
        model = T.AltCLIPModel(cfg)
        proc = T.AltCLIPProcessor(image_processor=T.CLIPImageProcessor(size={"shortest_edge": 32},
                                                                       crop_size={"height": 32, "width": 32}),
                                  tokenizer=tok)
    else:
        raise ValueError(kind)
    model.eval().save_pretrained(folder)
    proc.save_pretrained(folder)
    return folder
