"""A local vision-language model (transformers image-text-to-text) as a WISE judge."""

from __future__ import annotations

import os

import numpy as np
import torch

from evaluation.hf_generate import generate_text, load_local
from evaluation.wise.judges import SYSTEM, build_instruction
from evaluation.wise.prompts import WisePrompt


class TransformersVLMJudge:
    """`AutoModelForImageTextToText` + `AutoProcessor` from a local folder, greedy decoding.

    When the processor has a chat template, the system line, image and instruction are sent
    as chat messages; otherwise the instruction is the plain text prompt.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        max_new_tokens: int = 64,
        instruction: str | None = None,
    ) -> None:
        from transformers import AutoModelForImageTextToText

        self.processor, self.model = load_local(
            AutoModelForImageTextToText, model_path, "VLM judge", device, dtype
        )
        self.max_new_tokens = max_new_tokens
        self.instruction = instruction
        self.name = f"vlm:{os.path.basename(os.path.normpath(model_path))}"

    def text_for(self, prompt: WisePrompt, protocol: str) -> str:
        instruction = build_instruction(prompt, protocol, self.instruction)
        if not getattr(self.processor, "chat_template", None):
            return instruction
        messages = [
            {"role": "system", "content": [{"type": "text", "text": SYSTEM}]},
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": instruction}]},
        ]
        return self.processor.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )

    def judge(self, image: np.ndarray, prompt: WisePrompt, protocol: str) -> str:
        text = self.text_for(prompt, protocol)
        return generate_text(self.model, self.processor, [image], [text], self.max_new_tokens)[0]
