"""Shared fixtures: the shared benchmark folder, a fake generator, tiny random-init judges."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

SHARED_BENCHMARKS = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks"


@pytest.fixture(scope="session")
def benchmark_root() -> Path:
    if not SHARED_BENCHMARKS.is_dir():
        pytest.skip(f"benchmark data not found at {SHARED_BENCHMARKS} (../shared/benchmarks)")
    return SHARED_BENCHMARKS


class FakeGenerator:
    """Deterministic: pixel values are a hash of (prompt, seed, row); records every call."""

    def __init__(self, size: int = 16, channels: int = 3) -> None:
        self.size, self.channels = size, channels
        self.calls: list[tuple[list[str], int, int]] = []

    def generate(self, prompts: Sequence[str], nfe: int, seed: int) -> np.ndarray:
        self.calls.append((list(prompts), nfe, seed))
        out = []
        for row, prompt in enumerate(prompts):
            digest = hashlib.sha256(f"{prompt}|{seed}|{row}".encode()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            out.append(rng.integers(0, 256, (self.size, self.size, self.channels), dtype=np.uint8))
        return np.stack(out)


@pytest.fixture
def fake_generator() -> FakeGenerator:
    return FakeGenerator()


def _bytes_to_unicode() -> dict[int, str]:
    # GPT-2 / CLIP byte-level alphabet, needed to write a valid tiny CLIP BPE vocabulary.
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), 256)]
    codes, extra = list(keep), 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(keep, map(chr, codes), strict=True))


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init CLIP (32-d, 1 layer) + processor saved with save_pretrained."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    out = tmp_path_factory.mktemp("tiny_clip")
    chars = list(_bytes_to_unicode().values())
    vocab = {tok: i for i, tok in enumerate(chars + [c + "</w>" for c in chars])}
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (out / "vocab.json").write_text(json.dumps(vocab))
    (out / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(out / "vocab.json"), str(out / "merges.txt"))
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    config = CLIPConfig(
        text_config=dict(
            vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
            num_attention_heads=2, max_position_embeddings=77,
            bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
        ),
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
            image_size=32, patch_size=8,
        ),
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(out)
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_mask2former_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init Mask2Former (Swin 32-d, 5 queries, 3 classes) + processor."""
    from transformers import (
        Mask2FormerConfig,
        Mask2FormerForUniversalSegmentation,
        Mask2FormerImageProcessor,
    )

    out = tmp_path_factory.mktemp("tiny_m2f")
    names = {0: "cat", 1: "dog", 2: "car"}
    config = Mask2FormerConfig(
        backbone_config=dict(
            model_type="swin", embed_dim=32, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1],
            image_size=64, window_size=4, out_features=["stage1", "stage2", "stage3", "stage4"],
        ),
        feature_size=32, mask_feature_size=32, hidden_dim=32, encoder_feedforward_dim=32,
        dim_feedforward=32, encoder_layers=1, decoder_layers=2, num_queries=5,
        num_attention_heads=2, num_labels=3, common_stride=4, use_pretrained_backbone=False,
        id2label=names, label2id={v: k for k, v in names.items()},
    )
    Mask2FormerForUniversalSegmentation(config).save_pretrained(out)
    Mask2FormerImageProcessor(size={"height": 64, "width": 64}).save_pretrained(out)
    return out


def _tiny_blip(out: Path, model_cls_name: str) -> Path:
    import transformers
    from transformers import BertTokenizer, BlipConfig, BlipImageProcessor, BlipProcessor

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "yes", "no", "is", "there", "a",
             "cat", "dog", "?", "consistency", "realism", "aesthetic", "quality", "score", ":",
             "0", "1", "2"]
    (out / "vocab.txt").write_text("\n".join(words) + "\n")
    tokenizer = BertTokenizer(str(out / "vocab.txt"))
    processor = BlipProcessor(
        image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer
    )
    config = BlipConfig(
        text_config=dict(
            vocab_size=len(words), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
            num_attention_heads=2, max_position_embeddings=2048, encoder_hidden_size=32,
            bos_token_id=2, sep_token_id=3, pad_token_id=0,
        ),
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
            image_size=32, patch_size=8,
        ),
        projection_dim=16, image_text_hidden_size=32,
    )
    getattr(transformers, model_cls_name)(config).save_pretrained(out)
    processor.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_blip_vqa_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init BLIP VQA model (generative answers) + processor."""
    return _tiny_blip(tmp_path_factory.mktemp("tiny_blip_vqa"), "BlipForQuestionAnswering")


@pytest.fixture(scope="session")
def tiny_blip_captioner_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-init BLIP image-text-to-text model + processor (a stand-in local VLM)."""
    return _tiny_blip(tmp_path_factory.mktemp("tiny_blip_cap"), "BlipForConditionalGeneration")


# ---- TwinFlow models and the digit judge ----------------------------------------------------
# tests/conftest.py points $TWINFLOW_CACHE at a per-session folder, so the digit judge trains
# once per session (in the `digit_judge` fixture; ~15 s on 2 idle cores) and is reused after.

REPO = Path(__file__).resolve().parents[2]


def tiny_digits_config() -> dict:
    """The model section of experiments/digits_fm.yaml, shrunk for CPU tests: 16/32-channel
    levels, no EMA, no condition dropout (so a few hundred steps learn the prompts)."""
    import yaml

    from tests.helpers import load_experiment

    model = load_experiment("digits_fm")["model"]
    objective = yaml.safe_load((REPO / "configs" / "objective" / "flow_matching.yaml").read_text())
    objective["init_args"]["cond_dropout"] = 0.0
    args = model["network"]["init_args"]
    if "widths" in args:
        args["widths"] = [16, 32][: len(args["widths"])]
    if "channels" in args:
        args["channels"] = 16
    args["emb_dim"] = 64
    model.update(objective=objective, ema_decay=None, seed=0)
    model.pop("optimizer", None)
    return model


def build_tiny_module():
    """The tiny digits model, untrained (its output layer starts at zero: zero velocity)."""
    import yaml

    from twinflow.export import build_module

    config = tiny_digits_config()
    module = build_module(config)
    module.configure_model()
    module.model_config = yaml.safe_dump(config, sort_keys=False)
    return module


@pytest.fixture(scope="session")
def digit_judge():
    from twinflow.judge import DigitJudge

    return DigitJudge()


@pytest.fixture(scope="session")
def untrained_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An export folder (model.yaml + model.safetensors) of the untrained tiny model."""
    from twinflow.export import export_module

    return export_module(build_tiny_module(), tmp_path_factory.mktemp("untrained") / "export")
