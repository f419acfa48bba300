"""Tiny random-init checkpoints laid out exactly as the real diffusers ones.

``write_tiny_checkpoint("sana", out)`` writes ``out/{transformer,vae,text_encoder,tokenizer}``
with the very classes of SANA (``SanaTransformer2DModel``, ``AutoencoderDC``, ``Gemma2Model``)
or Qwen-Image (``QwenImageTransformer2DModel``, ``AutoencoderKLQwenImage``,
``Qwen2_5_VLForConditionalGeneration``) at toy widths, so the tiny experiments run the same
loading code (``from_pretrained`` from a local folder, stock -> twin conversion) that real
weights go through.  The tokenizer is a word-level tokenizer over a small vocabulary (the
captions of the tiny image folder plus the family's prompt template or instruction).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import torch

from twinflow.codec.vae import TINY_DCAE_CONFIG, TINY_QWEN_VAE_CONFIG
from twinflow.data.tiny_images import COLOURS, SHAPES
from twinflow.networks.qwen_image import TINY_QWEN_IMAGE_CONFIG
from twinflow.networks.sana import TINY_SANA_CONFIG

Family = Literal["qwen_image", "sana"]
TEXT_WIDTH = 32  # hidden size of the tiny text encoders = the transformers' caption width


def tiny_vocabulary() -> list[str]:
    """Words of the tiny image folder's captions (``a red circle``) and of common prompts."""
    words = ["a", "an", "the", "of", "on", "and", "with", "two", "photo", *COLOURS, *SHAPES]
    return [" ".join(words)]


def word_tokenizer(specials: list[str], bos: str | None, corpus: list[str]) -> Any:
    """A ``PreTrainedTokenizerFast`` with a whitespace word-level vocabulary of ``corpus``.

    ``specials`` become special tokens (``<pad>`` and ``<eos>`` are expected among them);
    with ``bos`` every encoding starts with it (as Gemma's tokenizer does).
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(corpus, trainers.WordLevelTrainer(special_tokens=["<unk>", *specials]))
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", special_tokens=[(bos, tok.token_to_id(bos))]
        )
    kwargs = {"bos_token": bos} if bos else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>",
        additional_special_tokens=[s for s in specials if s.startswith("<|")], **kwargs,
    )


def tiny_qwen_text_encoder(corpus: list[str]) -> tuple[Any, Any]:
    """A 2-layer ``Qwen2_5_VLForConditionalGeneration`` of width 32 and its tokenizer."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from twinflow.text.qwen_image import PROMPT_TEMPLATE

    specials = ["<pad>", "<eos>", "<|im_start|>", "<|im_end|>"]
    tok = word_tokenizer(specials, None, [PROMPT_TEMPLATE.format(c) for c in corpus])
    text = dict(
        vocab_size=len(tok), hidden_size=TEXT_WIDTH, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [1, 1, 2]},
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
    )
    vision = dict(depth=1, hidden_size=32, intermediate_size=32, num_heads=2, out_hidden_size=32,
                  fullatt_block_indexes=[0])
    config = Qwen2_5_VLConfig(text_config=text, vision_config=vision)
    return Qwen2_5_VLForConditionalGeneration(config).eval(), tok


def tiny_gemma_text_encoder(corpus: list[str]) -> tuple[Any, Any]:
    """A 2-layer ``Gemma2Model`` of width 32 and its tokenizer (with ``<bos>``)."""
    from transformers import Gemma2Config, Gemma2Model

    from twinflow.text.sana import SANA_COMPLEX_HUMAN_INSTRUCTION

    tok = word_tokenizer(
        ["<pad>", "<eos>", "<bos>"], "<bos>",
        ["\n".join(SANA_COMPLEX_HUMAN_INSTRUCTION).lower(), *corpus],
    )
    config = Gemma2Config(
        vocab_size=len(tok), hidden_size=TEXT_WIDTH, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=8, max_position_embeddings=1024,
        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, sliding_window=64,
    )
    return Gemma2Model(config).eval(), tok


def _sana_parts(corpus: list[str]) -> dict[str, Any]:
    from diffusers import AutoencoderDC, SanaTransformer2DModel

    vae = AutoencoderDC(**TINY_DCAE_CONFIG)
    channels = TINY_DCAE_CONFIG["latent_channels"]
    transformer = SanaTransformer2DModel(
        **{**TINY_SANA_CONFIG, "in_channels": channels, "out_channels": channels,
           "caption_channels": TEXT_WIDTH}
    )
    text_encoder, tokenizer = tiny_gemma_text_encoder(corpus)
    return {"transformer": transformer, "vae": vae, "text_encoder": text_encoder,
            "tokenizer": tokenizer}


def _qwen_parts(corpus: list[str]) -> dict[str, Any]:
    from diffusers import AutoencoderKLQwenImage, QwenImageTransformer2DModel

    vae = AutoencoderKLQwenImage(**TINY_QWEN_VAE_CONFIG)
    transformer = QwenImageTransformer2DModel(
        **{**TINY_QWEN_IMAGE_CONFIG, "joint_attention_dim": TEXT_WIDTH}
    )
    text_encoder, tokenizer = tiny_qwen_text_encoder(corpus)
    return {"transformer": transformer, "vae": vae, "text_encoder": text_encoder,
            "tokenizer": tokenizer}


def write_tiny_checkpoint(family: Family, out: str | Path, seed: int = 0) -> Path:
    """Write a random-init checkpoint folder of ``family`` to ``out`` (replaced if present).

    Returns ``out``; it then loads like a real local checkpoint root.
    """
    if family not in ("qwen_image", "sana"):
        raise ValueError(f"unknown family {family!r}: use 'qwen_image' or 'sana'")
    torch.manual_seed(seed)
    parts = (_sana_parts if family == "sana" else _qwen_parts)(tiny_vocabulary())
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    for name, part in parts.items():
        part.save_pretrained(root / name)
    index = {"_class_name": "SanaPipeline" if family == "sana" else "QwenImagePipeline",
             "_note": "tiny random-init checkpoint written by twinflow for smoke runs"}
    (root / "model_index.json").write_text(json.dumps(index, indent=1) + "\n")
    return root
