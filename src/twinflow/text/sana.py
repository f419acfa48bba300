"""Prompt encoding of diffusers' ``SanaPipeline`` as a :class:`PromptConditioner`.

Reproduces ``SanaPipeline._get_gemma_prompt_embeds`` / ``encode_prompt`` (diffusers 0.42.1,
``clean_caption=False``): prompts are lower-cased and stripped, prefixed with the "complex human
instruction", right-padded to ``n_instruction_tokens + max_length - 2`` tokens and run through
``Gemma2Model``; of the last hidden states the first (``<bos>``) and the last
``max_length - 1`` positions are kept, giving ``(B, max_length, D)`` and the tokenizer's mask.
:meth:`null` is the pipeline's negative prompt ``""``, encoded without the instruction.
"""

from __future__ import annotations

from typing import Any

import torch

from twinflow.data.text_encoder import warn_cut
from twinflow.networks.contract import Conditioning
from twinflow.networks.pretrained import component_dir, load_component

SANA_COMPLEX_HUMAN_INSTRUCTION: list[str] = [
    "Given a user prompt, generate an 'Enhanced prompt' that provides detailed visual "
    "descriptions suitable for image generation. Evaluate the level of detail in the user "
    "prompt:",
    "- If the prompt is simple, focus on adding specifics about colors, shapes, sizes, "
    "textures, and spatial relationships to create vivid and concrete scenes.",
    "- If the prompt is already detailed, refine and enhance the existing details slightly "
    "without overcomplicating.",
    "Here are examples of how to transform or refine prompts:",
    "- User Prompt: A cat sleeping -> Enhanced: A small, fluffy white cat curled up in a round "
    "shape, sleeping peacefully on a warm sunny windowsill, surrounded by pots of blooming red "
    "flowers.",
    "- User Prompt: A busy city street -> Enhanced: A bustling city street scene at dusk, "
    "featuring glowing street lamps, a diverse crowd of people in colorful clothing, and a "
    "double-decker bus passing by towering glass skyscrapers.",
    "Please generate only the enhanced description for the prompt below and avoid including "
    "any additional commentary or evaluations:",
    "User Prompt: ",
]


class SanaConditioner:
    """Sana text conditioning: ``(B, max_length, D)`` Gemma-2 states and a ``(B, L)`` mask.

    Args:
        pretrained: root of a local diffusers Sana checkpoint (checked at construction,
            loaded on the first :meth:`encode`); not needed when both components are given.
        text_encoder_subfolder / tokenizer_subfolder: component folders under ``pretrained``.
        max_length: the pipeline's ``max_sequence_length`` (300).
        complex_human_instruction: instruction lines prefixed to every prompt (the
            pipeline's default); ``None`` or ``[]`` disables it.
        torch_dtype: dtype of the text encoder and of the returned embeddings.
        device: where the text encoder runs; embeddings are returned there.
        text_encoder / tokenizer: already built components (tests, shared models).
    """

    def __init__(
        self,
        pretrained: str | None = None,
        text_encoder_subfolder: str = "text_encoder",
        tokenizer_subfolder: str = "tokenizer",
        max_length: int = 300,
        complex_human_instruction: list[str] | None = SANA_COMPLEX_HUMAN_INSTRUCTION,
        torch_dtype: str | torch.dtype = "float32",
        device: str | torch.device = "cpu",
        text_encoder: Any = None,
        tokenizer: Any = None,
    ) -> None:
        self.pretrained = pretrained
        self.text_encoder_subfolder = text_encoder_subfolder
        self.tokenizer_subfolder = tokenizer_subfolder
        self.max_length = max_length
        self.complex_human_instruction = list(complex_human_instruction or [])
        self.torch_dtype = (
            torch_dtype if isinstance(torch_dtype, torch.dtype) else getattr(torch, torch_dtype)
        )
        self.device = torch.device(device)
        self._text_encoder = text_encoder
        self._tokenizer = tokenizer
        self._warned = False
        if text_encoder is None or tokenizer is None:
            if pretrained is None:
                raise ValueError("SanaConditioner needs `pretrained` or both components")
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
            from transformers import Gemma2Model

            self._text_encoder = load_component(
                Gemma2Model, self.pretrained, self.text_encoder_subfolder, dtype=self.torch_dtype
            )
            self._text_encoder.to(self.device).eval().requires_grad_(False)
        self._tokenizer.padding_side = "right"
        return self._text_encoder, self._tokenizer

    def _gemma(self, prompts: list[str], instruction: list[str]) -> tuple[torch.Tensor, ...]:
        """``_get_gemma_prompt_embeds``: last hidden states and mask, before ``select_index``."""
        text_encoder, tokenizer = self._components()
        texts = [p.lower().strip() for p in prompts]
        limit = self.max_length
        if instruction:
            chi = "\n".join(instruction)
            texts = [chi + t for t in texts]
            limit = len(tokenizer.encode(chi)) + self.max_length - 2
        if not self._warned:  # once per conditioner: how many prompts are cut
            lengths = [len(ids) for ids in tokenizer(texts, truncation=False).input_ids]
            self._warned = warn_cut(
                "SanaConditioner", f"{limit} tokens (max_length={self.max_length}"
                + (" plus the instruction)" if instruction else ")"), lengths, limit)
        tokens = tokenizer(
            texts, padding="max_length", max_length=limit, truncation=True,
            add_special_tokens=True, return_tensors="pt",
        )
        mask = tokens.attention_mask.to(self.device)
        embeds = text_encoder(tokens.input_ids.to(self.device), attention_mask=mask)[0]
        return embeds.to(dtype=self.torch_dtype, device=self.device), mask

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> Conditioning:
        """Token embeddings ``(B, max_length, D)`` and mask (1 = keep) of ``prompts``."""
        embeds, mask = self._gemma(prompts, self.complex_human_instruction)
        select = [0] + list(range(-self.max_length + 1, 0))
        return Conditioning(embeds[:, select], mask[:, select])

    @torch.no_grad()
    def null(self) -> Conditioning:
        """The pipeline's negative prompt ``""``: no instruction, ``(1, max_length, D)``."""
        embeds, mask = self._gemma([""], [])
        return Conditioning(embeds, mask)
