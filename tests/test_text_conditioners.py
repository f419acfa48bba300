"""QwenImage / Sana conditioners against the stock diffusers pipelines, with tiny components;
every conditioner warns once when it cuts prompts."""

from __future__ import annotations

import warnings

import pytest
import torch

from twinflow.networks.pretrained import PretrainedPathError
from twinflow.text import SANA_COMPLEX_HUMAN_INSTRUCTION, QwenImageConditioner, SanaConditioner
from twinflow.tiny_checkpoint import tiny_gemma_text_encoder, tiny_qwen_text_encoder

PROMPTS = ["a red cat on a mat", "two dogs"]
LONG = " ".join(["cat"] * 40)


@pytest.fixture(scope="module")
def qwen_parts():
    torch.manual_seed(0)
    return tiny_qwen_text_encoder([*PROMPTS, LONG])


@pytest.fixture(scope="module")
def sana_parts():
    torch.manual_seed(0)
    return tiny_gemma_text_encoder([*PROMPTS, LONG])


def test_qwen_matches_pipeline(qwen_parts):
    from diffusers import QwenImagePipeline

    encoder, tok = qwen_parts
    pipe = QwenImagePipeline(scheduler=None, vae=None, text_encoder=encoder, tokenizer=tok,
                             transformer=None)
    ref, ref_mask = pipe.encode_prompt(PROMPTS, device=torch.device("cpu"))
    cond = QwenImageConditioner(text_encoder=encoder, tokenizer=tok).encode(PROMPTS)
    torch.testing.assert_close(cond.embeds, ref)
    assert ref_mask is not None and torch.equal(cond.mask, ref_mask)
    assert cond.mask[1].sum() < cond.mask[0].sum()  # right-padded shorter prompt
    assert (cond.embeds[1, int(cond.mask[1].sum()):] == 0).all()


def test_qwen_null_and_truncation(qwen_parts):
    encoder, tok = qwen_parts
    cond = QwenImageConditioner(text_encoder=encoder, tokenizer=tok, max_length=8)
    null = cond.null()
    assert null.embeds.shape[0] == 1 and null.embeds.shape[2] == 32
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = cond.encode([LONG, "two dogs", LONG])
        cond.encode([LONG])
    cut = [w for w in caught if "max_length=8" in str(w.message)]
    assert len(cut) == 1 and out.embeds.shape[1] == 8 and out.mask[0].all()
    assert "2 of 3 prompts were cut" in str(cut[0].message)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        QwenImageConditioner(text_encoder=encoder, tokenizer=tok).encode([LONG])
    assert not caught  # within the default limit: nothing to say


def test_sana_matches_pipeline(sana_parts):
    from diffusers import SanaPipeline

    encoder, tok = sana_parts
    pipe = SanaPipeline(tokenizer=tok, text_encoder=encoder, vae=None, transformer=None,
                        scheduler=None)
    ref, ref_mask, neg, neg_mask = pipe.encode_prompt(
        PROMPTS, do_classifier_free_guidance=True, negative_prompt="",
        device=torch.device("cpu"), max_sequence_length=16,
        complex_human_instruction=SANA_COMPLEX_HUMAN_INSTRUCTION,
    )
    cond = SanaConditioner(text_encoder=encoder, tokenizer=tok, max_length=16)
    out = cond.encode(PROMPTS)
    torch.testing.assert_close(out.embeds, ref)
    assert torch.equal(out.mask, ref_mask) and out.embeds.shape == (2, 16, 32)
    null = cond.null()
    torch.testing.assert_close(null.embeds, neg[:1])  # the pipeline repeats "" per prompt
    assert torch.equal(null.mask, neg_mask[:1]) and null.mask.sum() == 1  # just <bos>


def test_sana_truncation_warns_once(sana_parts):
    encoder, tok = sana_parts
    cond = SanaConditioner(text_encoder=encoder, tokenizer=tok, max_length=8,
                           complex_human_instruction=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = cond.encode([LONG, "two dogs"])
        cond.encode([LONG])
    cut = [w for w in caught if "limit of 8 tokens" in str(w.message)]
    assert len(cut) == 1 and "1 of 2 prompts were cut" in str(cut[0].message)
    assert out.mask[0].all() and out.mask[1].sum() == 3


@pytest.mark.parametrize("cls", [QwenImageConditioner, SanaConditioner])
def test_missing_path_is_one_line(cls, tmp_path):
    with pytest.raises(PretrainedPathError) as err:
        cls(pretrained=str(tmp_path / "nope"))
    assert "\n" not in str(err.value) and "nope" in str(err.value)
    (tmp_path / "ckpt" / "tokenizer").mkdir(parents=True)
    with pytest.raises(PretrainedPathError, match="text_encoder"):
        cls(pretrained=str(tmp_path / "ckpt"))


@pytest.mark.parametrize("which", ["qwen", "sana"])
def test_loads_from_saved_folder(which, qwen_parts, sana_parts, tmp_path):
    encoder, tok = qwen_parts if which == "qwen" else sana_parts
    encoder.save_pretrained(tmp_path / "text_encoder")
    tok.save_pretrained(tmp_path / "tokenizer")
    cls = QwenImageConditioner if which == "qwen" else SanaConditioner
    kwargs = {} if which == "qwen" else {"max_length": 16}
    lazy = cls(pretrained=str(tmp_path), **kwargs)
    assert lazy._text_encoder is None  # nothing loaded at construction
    ref = cls(text_encoder=encoder, tokenizer=tok, **kwargs).encode(PROMPTS)
    out = lazy.encode(PROMPTS)
    torch.testing.assert_close(out.embeds, ref.embeds)
    assert torch.equal(out.mask, ref.mask)


def test_minilm_warns_once_naming_the_limit_and_the_count(tmp_path):
    from twinflow.data.text_encoder import MiniLMConditioner

    cond = MiniLMConditioner(cache_dir=str(tmp_path))
    long = " ".join(["seven"] * 300)  # over MiniLM's 256 tokens
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cond.encode(["a handwritten two", "a handwritten seven"])
        assert not caught
        cond.encode([long, "a handwritten two", long + " eight"])
        cond.encode([long + " nine"])
    cut = [str(w.message) for w in caught]
    assert len(cut) == 1, cut
    assert "MiniLMConditioner: 2 of 2 prompts were cut at the limit of 256 tokens" in cut[0]
