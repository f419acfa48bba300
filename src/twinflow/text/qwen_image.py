"""Prompt encoding of diffusers' ``QwenImagePipeline`` as a :class:`PromptConditioner`.

Reproduces ``QwenImagePipeline._get_qwen_prompt_embeds`` / ``encode_prompt`` (diffusers
0.42.1): each prompt is wrapped in the chat template, tokenized (at most
``max_length + 34`` tokens), run through ``Qwen2_5_VLForConditionalGeneration``; the last
layer's hidden states of the valid tokens are kept, the 34 template-prefix tokens dropped, and
the batch is re-padded on the right with zeros (mask 0 there).  Unlike the pipeline, the mask
is always returned, even when it is all ones.
"""

from __future__ import annotations

from typing import Any

import torch

from twinflow.data.text_encoder import warn_cut
from twinflow.networks.contract import Conditioning
from twinflow.networks.pretrained import component_dir, load_component

PROMPT_TEMPLATE = (
    "<|im_start|>system\nDescribe the image by detailing the color, shape, size, texture, "
    "quantity, text, spatial relationships of the objects and background:<|im_end|>\n"
    "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
)
DROP_IDX = 34


def _dtype(value: str | torch.dtype) -> torch.dtype:
    return value if isinstance(value, torch.dtype) else getattr(torch, value)


class QwenImageConditioner:
    """Qwen-Image text conditioning: ``(B, L, D)`` hidden states and a ``(B, L)`` mask.

    Args:
        pretrained: root of a local diffusers Qwen-Image checkpoint (checked at construction,
            loaded on the first :meth:`encode`); not needed when ``text_encoder`` and
            ``tokenizer`` are given.
        text_encoder_subfolder / tokenizer_subfolder: component folders under ``pretrained``.
        max_length: token limit per prompt (after the template prefix), the pipeline's 1024.
        torch_dtype: dtype of the text encoder and of the returned embeddings.
        device: where the text encoder runs; embeddings are returned there.
        text_encoder / tokenizer: already built components (tests, shared models).
    """

    def __init__(
        self,
        pretrained: str | None = None,
        text_encoder_subfolder: str = "text_encoder",
        tokenizer_subfolder: str = "tokenizer",
        max_length: int = 1024,
        torch_dtype: str | torch.dtype = "float32",
        device: str | torch.device = "cpu",
        text_encoder: Any = None,
        tokenizer: Any = None,
    ) -> None:
        self.pretrained = pretrained
        self.text_encoder_subfolder = text_encoder_subfolder
        self.tokenizer_subfolder = tokenizer_subfolder
        self.max_length = max_length
        self.torch_dtype = _dtype(torch_dtype)
        self.device = torch.device(device)
        self._text_encoder = text_encoder
        self._tokenizer = tokenizer
        self._warned = False
        if text_encoder is None or tokenizer is None:
            if pretrained is None:
                raise ValueError("QwenImageConditioner needs `pretrained` or both components")
            if text_encoder is None:
                component_dir(pretrained, text_encoder_subfolder)
            if tokenizer is None:
                component_dir(pretrained, tokenizer_subfolder, marker="tokenizer_config.json")

    def _components(self) -> tuple[Any, Any]:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = load_component(
                AutoTokenizer, self.pretrained, self.tokenizer_subfolder,
                marker="tokenizer_config.json",
            )
        if self._text_encoder is None:
            from transformers import Qwen2_5_VLForConditionalGeneration

            self._text_encoder = load_component(
                Qwen2_5_VLForConditionalGeneration, self.pretrained,
                self.text_encoder_subfolder, dtype=self.torch_dtype,
            )
            self._text_encoder.to(self.device).eval().requires_grad_(False)
        return self._text_encoder, self._tokenizer

    def _warn_truncation(self, tokenizer: Any, texts: list[str]) -> None:
        """Once per conditioner: how many prompts exceed ``max_length`` tokens (and are cut)."""
        if self._warned:
            return
        lengths = [len(ids) - DROP_IDX for ids in tokenizer(texts, truncation=False).input_ids]
        self._warned = warn_cut("QwenImageConditioner", f"max_length={self.max_length} tokens",
                                lengths, self.max_length)

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> Conditioning:
        """Token embeddings ``(B, L, D)`` and mask ``(B, L)`` (1 = keep) of ``prompts``."""
        text_encoder, tokenizer = self._components()
        texts = [PROMPT_TEMPLATE.format(p) for p in prompts]
        self._warn_truncation(tokenizer, texts)
        tokens = tokenizer(
            texts, max_length=self.max_length + DROP_IDX, padding=True, truncation=True,
            return_tensors="pt",
        ).to(self.device)
        hidden = text_encoder(
            input_ids=tokens.input_ids, attention_mask=tokens.attention_mask,
            output_hidden_states=True,
        ).hidden_states[-1]
        keep = tokens.attention_mask.bool()
        rows = torch.split(hidden[keep], keep.sum(dim=1).tolist(), dim=0)
        rows = [row[DROP_IDX:][: self.max_length] for row in rows]
        length = max(row.shape[0] for row in rows)
        pad = [torch.cat([r, r.new_zeros(length - len(r), r.shape[1])]) for r in rows]
        embeds = torch.stack(pad)
        mask = torch.zeros(len(rows), length, dtype=torch.long, device=embeds.device)
        for i, row in enumerate(rows):
            mask[i, : len(row)] = 1
        return Conditioning(embeds.to(dtype=self.torch_dtype, device=self.device), mask)

    def null(self) -> Conditioning:
        """The empty prompt (the pipeline's default negative prompt is ``" "``; CFG dropout
        conventionally uses ``""``)."""
        return self.encode([""])
